/*
 * One client of the shared VDS service, for the multi-client checks that
 * clients.sh drives: several of these run at once, some are killed with
 * SIGKILL at chosen points, others check what the survivors see. Always
 * CLSCTX_LOCAL_SERVER. Exact values, TAP lines, exit 1 on a failed check.
 *   vds_client.exe DIR ACTION [NAME] [ARG]
 * Actors print "ready" once in the state to be killed in, then block:
 *   hold-open NAME       a read-write handle (Open ALL), not attached
 *   hold-info NAME       a look-only handle (GET_INFO)
 *   hold-attached NAME   a handle, attached read-write
 *   hold-enum NAME       a loader, a service, enumerations of providers and VDisks
 *   hold-compact NAME    a Compact running (held by the provider's test hook)
 *   hold-wait NAME       the same, blocked in IVdsAsync::Wait
 * Checkers:
 *   await-free NAME STATE   Open refused while the actor lives; after its death
 *                           Open succeeds (prints "released-at MS", Unix ms);
 *                           STATE is the state with our handle (open|attached)
 *   after-compact NAME      the orphaned Compact still runs (COMPACTING); let
 *                           go, it ends and the file is free again
 *   attach-leave NAME       attach read-only, release everything, exit
 *   adopt NAME              another client's attachment: listed ATTACHED_NOT_OPEN,
 *                           opened, detached
 *   second-open NAME MODE   while another client holds a handle (rw|info)
 *   busy-query NAME OTHER   while another client's Compact of NAME runs:
 *                           QueryVDisks, GetProperties and our own QueryStatus answer
 *   hammer NAME ROUNDS      open (waiting out other clients), compact or query, release
 *   activate APARTMENT SEC  one activation: sta|mta, secure|plain (CoInitializeSecurity)
 *   release-jobs            let held jobs go
 */
#include "conformance.h"

static IVdsVdProvider *connect_provider(void)
{
    IVdsServiceLoader *ldr = NULL;
    IVdsService *service = NULL;
    IEnumVdsObject *e = NULL;
    IUnknown *unk = NULL;
    IVdsVdProvider *prov = NULL;
    ULONG fetched = 0;

    ok_hr(CoCreateInstance(&CLSID_VdsLoader, NULL, CLSCTX_LOCAL_SERVER, &IID_IVdsServiceLoader, (void **)&ldr), S_OK,
          "CoCreateInstance(CLSID_VdsLoader, CLSCTX_LOCAL_SERVER)");
    if (!ldr) return NULL;
    ok_hr(IVdsServiceLoader_LoadService(ldr, NULL, &service), S_OK, "LoadService");
    IVdsServiceLoader_Release(ldr);
    if (!service) return NULL;
    ok_hr(IVdsService_QueryProviders(service, VDS_QUERY_VIRTUALDISK_PROVIDERS, &e), S_OK, "QueryProviders");
    if (e)
    {
        ok_hr(IEnumVdsObject_Next(e, 1, &unk, &fetched), S_OK, "the virtual-disk provider");
        if (unk)
        {
            ok_hr(IUnknown_QueryInterface(unk, &IID_IVdsVdProvider, (void **)&prov), S_OK, "IVdsVdProvider");
            IUnknown_Release(unk);
        }
        IEnumVdsObject_Release(e);
    }
    IVdsService_Release(service);
    return prov;
}

static ULONGLONG unix_ms(void)
{
    FILETIME ft;

    GetSystemTimeAsFileTime(&ft);
    return ((((ULONGLONG)ft.dwHighDateTime << 32) | ft.dwLowDateTime) - 116444736000000000ull) / 10000;
}

static void ready(void)
{
    printf("ready\n");
    fflush(stdout);
}

static void block(void)
{
    Sleep(INFINITE);
}

static HRESULT try_open(IVdsVDisk *vdisk, VIRTUAL_DISK_ACCESS_MASK mask, IVdsOpenVDisk **open)
{
    *open = (void *)0xdeadbeef;
    return IVdsVDisk_Open(vdisk, mask, OPEN_VIRTUAL_DISK_FLAG_NONE, mask == VIRTUAL_DISK_ACCESS_GET_INFO ? 0 : 1,
                          open);
}

static int actor(IVdsVdProvider *prov, const char *action, const WCHAR *name)
{
    IVdsOpenVDisk *open;
    IVdsVDisk *vdisk;
    IVdsAsync *async = NULL;

    if (!strcmp(action, "hold-enum"))
    {
        IEnumVdsObject *e = NULL;
        if ((vdisk = add_vdisk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX)))
            ok_hr(IVdsVdProvider_QueryVDisks(prov, &e), S_OK, "QueryVDisks, held");
        ready();
        block();
    }
    if (!strcmp(action, "hold-info"))
    {
        if (!(vdisk = add_vdisk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX))) return 1;
        ok_hr(try_open(vdisk, VIRTUAL_DISK_ACCESS_GET_INFO, &open), S_OK, "Open(GET_INFO)");
        ready();
        block();
    }
    if (!(open = open_disk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk))) return 1;
    if (!strcmp(action, "hold-attached") && attach(open, FALSE) != S_OK) return 1;
    if (!strcmp(action, "hold-compact") || !strcmp(action, "hold-wait"))
    {
        VDS_ASYNC_OUTPUT out;
        HRESULT task;

        hold_jobs();    /* the handle dies with this process; the worker keeps the event */
        ok_hr(IVdsOpenVDisk_Compact(open, COMPACT_VIRTUAL_DISK_FLAG_NONE, 0, &async), S_OK, "Compact");
        ready();
        if (!strcmp(action, "hold-wait") && async) IVdsAsync_Wait(async, &task, &out);
    }
    else ready();
    block();
    return 0;
}

/* Poll until Open succeeds (bounded: 30 s); the open handle, or NULL. */
static IVdsOpenVDisk *open_when_free(IVdsVDisk *vdisk, DWORD limit_ms)
{
    DWORD start = GetTickCount();
    IVdsOpenVDisk *open;
    HRESULT hr;

    while ((hr = try_open(vdisk, VIRTUAL_DISK_ACCESS_ALL, &open)) == VDS_E_VD_DISK_ALREADY_OPEN
           && GetTickCount() - start < limit_ms)
        Sleep(20);
    ok_hr(hr, S_OK, "Open once the other client's handle is gone");
    return hr == S_OK ? open : NULL;
}

static void await_free(IVdsVdProvider *prov, const WCHAR *name, const char *with_handle)
{
    VDS_VDISK_STATE held = !strcmp(with_handle, "attached") ? VDS_VST_ATTACHED : VDS_VST_OPEN;
    IVdsOpenVDisk *open;
    IVdsVDisk *vdisk;
    HRESULT hr;

    if (!(vdisk = add_vdisk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX))) return;
    hr = try_open(vdisk, VIRTUAL_DISK_ACCESS_ALL, &open);
    ok_hr(hr, VDS_E_VD_DISK_ALREADY_OPEN, "Open while the other client holds its handle");
    ok(vdisk_state(vdisk) == held, "the other client's handle is seen: state %d", held);
    printf("watching\n");
    fflush(stdout);
    if (!(open = open_when_free(vdisk, 30000))) return;
    printf("released-at %llu\n", unix_ms());
    ok(vdisk_state(vdisk) == held, "with our handle the state is %d (the attachment stays)", held);
    if (held == VDS_VST_ATTACHED)
    {
        ok_hr(IVdsOpenVDisk_Detach(open, DETACH_VIRTUAL_DISK_FLAG_NONE, 0), S_OK, "Detach the dead client's attachment");
        ok(vdisk_state(vdisk) == VDS_VST_OPEN, "detached: OPEN");
    }
    IVdsOpenVDisk_Release(open);
    ok(vdisk_state(vdisk) == VDS_VST_ADDED, "released: ADDED");
    IVdsVDisk_Release(vdisk);
}

static void release_held_jobs(void)
{
    HANDLE hold = OpenEventW(EVENT_MODIFY_STATE, FALSE, L"vdsshim-test-hold-jobs");

    ok(hold != NULL, "the held job's event is still open in the service (error %lu)", GetLastError());
    if (hold) release_jobs(hold);
}

static void after_compact(IVdsVdProvider *prov, const WCHAR *name)
{
    IVdsOpenVDisk *open;
    IVdsVDisk *vdisk;

    if (!(vdisk = add_vdisk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX))) return;
    /* The job outlives the client that started it (as on Windows: the task is the service's). */
    ok(vdisk_state(vdisk) == VDS_VST_COMPACTING, "the dead client's Compact still runs: COMPACTING");
    release_held_jobs();
    if (!(open = open_when_free(vdisk, 60000))) return;
    printf("released-at %llu\n", unix_ms());
    ok(vdisk_state(vdisk) == VDS_VST_OPEN, "the Compact ended and let the file go: OPEN with our handle");
    IVdsOpenVDisk_Release(open);
    ok(vdisk_state(vdisk) == VDS_VST_ADDED, "released: ADDED");
    IVdsVDisk_Release(vdisk);
}

static void attach_leave(IVdsVdProvider *prov, const WCHAR *name)
{
    IVdsOpenVDisk *open;
    IVdsVDisk *vdisk;

    if (!(open = open_disk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk))) return;
    attach(open, TRUE);
    IVdsOpenVDisk_Release(open);
    ok(vdisk_state(vdisk) == VDS_VST_ATTACHED_NOT_OPEN, "attached, handle released: ATTACHED_NOT_OPEN");
    IVdsVDisk_Release(vdisk);
}

/* The VDisk of path among the provider's, with the count of all. */
static IVdsVDisk *find_listed(IVdsVdProvider *prov, const WCHAR *path, ULONG *count)
{
    IEnumVdsObject *e = NULL;
    IVdsVDisk *found = NULL;
    IUnknown *unk;
    ULONG fetched;

    *count = 0;
    ok_hr(IVdsVdProvider_QueryVDisks(prov, &e), S_OK, "QueryVDisks");
    if (!e) return NULL;
    while (IEnumVdsObject_Next(e, 1, &unk, &fetched) == S_OK && fetched == 1)
    {
        VDS_VDISK_PROPERTIES props;
        IVdsVDisk *v;

        (*count)++;
        if (SUCCEEDED(IUnknown_QueryInterface(unk, &IID_IVdsVDisk, (void **)&v)))
        {
            if (IVdsVDisk_GetProperties(v, &props) == S_OK)
            {
                if (!found && !_wcsicmp(props.pPath, path))
                {
                    found = v;
                    IVdsVDisk_AddRef(found);
                }
                CoTaskMemFree(props.pPath);
                CoTaskMemFree(props.pDeviceName);
                CoTaskMemFree(props.pParentPath);
            }
            IVdsVDisk_Release(v);
        }
        IUnknown_Release(unk);
    }
    IEnumVdsObject_Release(e);
    return found;
}

static void adopt(IVdsVdProvider *prov, const WCHAR *name)
{
    WCHAR path[MAX_PATH];
    IVdsOpenVDisk *open;
    IVdsVDisk *vdisk;
    ULONG count;

    path_of(name, path);
    vdisk = find_listed(prov, path, &count);
    ok(vdisk != NULL, "the other client's VDisk is listed by QueryVDisks (%lu listed)", count);
    if (!vdisk) return;
    ok(vdisk_state(vdisk) == VDS_VST_ATTACHED_NOT_OPEN, "... ATTACHED_NOT_OPEN, as the other client left it");
    ok_hr(try_open(vdisk, VIRTUAL_DISK_ACCESS_ALL, &open), S_OK, "Open another client's attached VDisk");
    if (open && open != (void *)0xdeadbeef)
    {
        ok(vdisk_state(vdisk) == VDS_VST_ATTACHED, "opened: ATTACHED");
        ok_hr(IVdsOpenVDisk_Detach(open, DETACH_VIRTUAL_DISK_FLAG_NONE, 0), S_OK, "Detach it");
        ok(vdisk_state(vdisk) == VDS_VST_OPEN, "detached: OPEN");
        IVdsOpenVDisk_Release(open);
    }
    ok(vdisk_state(vdisk) == VDS_VST_ADDED, "released: ADDED");
    IVdsVDisk_Release(vdisk);
}

static void second_open(IVdsVdProvider *prov, const WCHAR *name, const char *mode)
{
    IVdsOpenVDisk *a, *b;
    IVdsVDisk *vdisk;

    if (!(vdisk = add_vdisk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX))) return;
    ok_hr(try_open(vdisk, VIRTUAL_DISK_ACCESS_ALL, &a), VDS_E_VD_DISK_ALREADY_OPEN,
          "a read-write Open while another client holds a handle");
    ok(a == NULL, "... and no handle");
    if (!strcmp(mode, "rw"))
    {
        ok_hr(try_open(vdisk, VIRTUAL_DISK_ACCESS_GET_INFO, &a), VDS_E_VD_DISK_ALREADY_OPEN,
              "a look-only Open while another client holds a read-write handle");
    }
    else
    {
        ok_hr(try_open(vdisk, VIRTUAL_DISK_ACCESS_GET_INFO, &a), S_OK, "a look-only Open beside another client's");
        ok_hr(try_open(vdisk, VIRTUAL_DISK_ACCESS_GET_INFO, &b), S_OK, "... and a second one");
        ok(vdisk_state(vdisk) == VDS_VST_OPEN, "three look-only handles: OPEN");
        if (a && a != (void *)0xdeadbeef) IVdsOpenVDisk_Release(a);
        if (b && b != (void *)0xdeadbeef) IVdsOpenVDisk_Release(b);
        ok(vdisk_state(vdisk) == VDS_VST_OPEN, "ours released, the other client's stays: OPEN");
    }
    IVdsVDisk_Release(vdisk);
}

struct query_args
{
    IVdsVdProvider *prov;
    IVdsVDisk *vdisk;
    ULONG count;
    VDS_VDISK_STATE state;
};

static DWORD WINAPI query_thread(void *ctx)
{
    struct query_args *q = ctx;
    WCHAR path[MAX_PATH] = { 0 };
    IVdsVDisk *v;

    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    if ((v = find_listed(q->prov, path, &q->count))) IVdsVDisk_Release(v);
    q->state = vdisk_state(q->vdisk);
    CoUninitialize();
    return 0;
}

static void busy_query(IVdsVdProvider *prov, const WCHAR *name, const WCHAR *other)
{
    struct query_args q = { prov, NULL, 0, VDS_VST_UNKNOWN };
    IVdsOpenVDisk *open;
    IVdsVDisk *mine;
    IVdsAsync *async = NULL;
    HANDLE thread, hold;
    HRESULT status = 0x55;
    ULONG pct = 0x55;

    if (!(q.vdisk = add_vdisk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX))) return;
    thread = CreateThread(NULL, 0, query_thread, &q, 0, NULL);
    /* A bound that only a stalled call misses; not a measure of speed. */
    ok(WaitForSingleObject(thread, 60000) == WAIT_OBJECT_0, "QueryVDisks and GetProperties return while another "
       "client's Compact runs");
    CloseHandle(thread);
    ok(q.count >= 1 && q.state == VDS_VST_COMPACTING, "%lu listed, the busy one COMPACTING (state %d)", q.count, q.state);
    /* Our own job beside theirs: held too, and its status answers at once. */
    hold = hold_jobs();
    if ((open = open_disk(prov, other, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &mine)))
    {
        ok_hr(IVdsOpenVDisk_Compact(open, COMPACT_VIRTUAL_DISK_FLAG_NONE, 0, &async), S_OK, "our own Compact");
        if (async)
        {
            ok_hr(IVdsAsync_QueryStatus(async, &status, &pct), S_OK, "QueryStatus beside another client's job");
            ok(status == VDS_E_OPERATION_PENDING && pct == 0, "pending: %#lx, %lu%%", (unsigned long)status, pct);
            ok_hr(IVdsAsync_Cancel(async), S_OK, "Cancel our own job");
            IVdsAsync_Release(async);
        }
        IVdsOpenVDisk_Release(open);
        IVdsVDisk_Release(mine);
    }
    CloseHandle(hold);  /* the other client's job stays held until release-jobs */
    IVdsVDisk_Release(q.vdisk);
}

static void hammer(IVdsVdProvider *prov, const WCHAR *name, int rounds)
{
    int i, good = 0;

    for (i = 0; i < rounds; i++)
    {
        IVdsOpenVDisk *open;
        IVdsVDisk *vdisk;
        IVdsAsync *async = NULL;
        VDS_ASYNC_OUTPUT out;
        HRESULT task = E_FAIL;

        if (!(vdisk = add_vdisk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX))) break;
        if ((open = open_when_free(vdisk, 120000)))
        {
            if (i % 2 == 0 && IVdsOpenVDisk_Compact(open, COMPACT_VIRTUAL_DISK_FLAG_NONE, 0, &async) == S_OK)
            {
                task = wait_task(async, &out);
                IVdsAsync_Release(async);
            }
            else if (i % 2) task = vdisk_state(vdisk) == VDS_VST_OPEN ? S_OK : E_FAIL;
            IVdsOpenVDisk_Release(open);
        }
        good += task == S_OK;
        IVdsVDisk_Release(vdisk);
    }
    ok(good == rounds, "%d of %d rounds of open, compact or query, release: exact", good, rounds);
}

static void activate(const char *apartment, const char *security)
{
    IVdsVdProvider *prov;

    CoUninitialize();
    CoInitializeEx(NULL, !strcmp(apartment, "sta") ? COINIT_APARTMENTTHREADED : COINIT_MULTITHREADED);
    if (!strcmp(security, "secure"))
        ok_hr(CoInitializeSecurity(NULL, -1, NULL, NULL, RPC_C_AUTHN_LEVEL_CONNECT, RPC_C_IMP_LEVEL_IMPERSONATE, NULL,
                                   EOAC_NONE, NULL), S_OK, "CoInitializeSecurity(IMPERSONATE), as the SDK asks");
    if ((prov = connect_provider())) IVdsVdProvider_Release(prov);
}

int wmain(int argc, WCHAR **argv)
{
    char action[32] = "", arg[32] = "";
    const WCHAR *name = argc > 3 ? argv[3] : L"";
    IVdsVdProvider *prov = NULL;

    if (argc < 3)
    {
        fprintf(stderr, "usage: vds_client.exe DIR ACTION [NAME] [ARG]\n");
        return 2;
    }
    dir = argv[1];
    clsctx = CLSCTX_LOCAL_SERVER;
    WideCharToMultiByte(CP_UTF8, 0, argv[2], -1, action, sizeof(action), NULL, NULL);
    if (argc > 4) WideCharToMultiByte(CP_UTF8, 0, argv[4], -1, arg, sizeof(arg), NULL, NULL);
    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    if (!strcmp(action, "activate"))
    {
        char apartment[8] = "mta";

        if (argc > 3) WideCharToMultiByte(CP_UTF8, 0, argv[3], -1, apartment, sizeof(apartment), NULL, NULL);
        activate(apartment, arg[0] ? arg : "plain");
    }
    else if (!strcmp(action, "release-jobs")) release_held_jobs();
    else if ((prov = connect_provider()))
    {
        if (!strncmp(action, "hold-", 5)) return actor(prov, action, name);
        if (!strcmp(action, "await-free")) await_free(prov, name, arg);
        else if (!strcmp(action, "after-compact")) after_compact(prov, name);
        else if (!strcmp(action, "attach-leave")) attach_leave(prov, name);
        else if (!strcmp(action, "adopt")) adopt(prov, name);
        else if (!strcmp(action, "second-open")) second_open(prov, name, arg);
        else if (!strcmp(action, "busy-query")) busy_query(prov, name, argc > 4 ? argv[4] : L"");
        else if (!strcmp(action, "hammer")) hammer(prov, name, atoi(arg));
        else ok(0, "unknown action %s", action);
        IVdsVdProvider_Release(prov);
    }
    CoUninitialize();
    return tap_finish();
}
