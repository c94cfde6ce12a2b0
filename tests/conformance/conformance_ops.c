/*
 * Conformance of the rest of the virtual-disk methods: CreateVDisk (async
 * 200 and its cvd.pVDiskUnk), Expand (204), Merge (203) with the
 * ReadWriteDepth rule, DetachAndDelete, the answers while another operation
 * runs (held running by the provider's test hook, so none of it depends on
 * timing), Cancel's rules and the atomic state machine. Exact HRESULTs,
 * sentinels in out-parameters. run.sh checks the files afterwards with qemu-img.
 */
#include "conformance.h"

/* CreateVDisk and its task; *vdisk is cvd.pVDiskUnk as an IVdsVDisk. */
static HRESULT create(IVdsVdProvider *prov, const WCHAR *name, ULONG device, CREATE_VIRTUAL_DISK_FLAG flags,
                      ULONGLONG size, const WCHAR *parent, const WCHAR *sd, IVdsVDisk **vdisk)
{
    VIRTUAL_STORAGE_TYPE type = { device, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    VDS_CREATE_VDISK_PARAMETERS params;
    WCHAR path[MAX_PATH], parent_path[MAX_PATH];
    IVdsAsync *async = NULL;     /* [in, out]: the proxy marshals what it points at */
    VDS_ASYNC_OUTPUT out;
    HRESULT hr, task;

    *vdisk = NULL;
    path_of(name, path);
    memset(&params, 0, sizeof(params));
    params.MaximumSize = size;
    if (parent)
    {
        path_of(parent, parent_path);
        params.pParentPath = parent_path;
    }
    hr = IVdsVdProvider_CreateVDisk(prov, &type, path, (WCHAR *)sd, flags, 0, 0, &params, &async);
    ok_hr(hr, S_OK, "CreateVDisk");
    if (hr != S_OK) return hr;
    task = wait_task(async, &out);
    if (task == S_OK)
    {
        ok(out.type == VDS_ASYNCOUT_CREATE_VDISK, "VDS_ASYNC_OUTPUT.type %d is 200", out.type);
        ok(out.cvd.pVDiskUnk != NULL, "cvd.pVDiskUnk is set");
        if (out.cvd.pVDiskUnk)
        {
            ok_hr(IUnknown_QueryInterface(out.cvd.pVDiskUnk, &IID_IVdsVDisk, (void **)vdisk), S_OK,
                  "cvd.pVDiskUnk is an IVdsVDisk");
            IUnknown_Release(out.cvd.pVDiskUnk);
        }
    }
    else
        ok(output_zeroed(&out), "a failed create: VDS_ASYNC_OUTPUT zeros, cvd.pVDiskUnk NULL");
    IVdsAsync_Release(async);
    return task;
}

/* The file's size and last write, to prove nothing wrote it. */
static ULONGLONG file_stamp(const WCHAR *path)
{
    WIN32_FILE_ATTRIBUTE_DATA d;

    if (!GetFileAttributesExW(path, GetFileExInfoStandard, &d)) return 0;
    return (((ULONGLONG)d.ftLastWriteTime.dwHighDateTime << 32) | d.ftLastWriteTime.dwLowDateTime)
           ^ (((ULONGLONG)d.nFileSizeHigh << 32) | d.nFileSizeLow);
}

void test_create_vdisk(IVdsVdProvider *prov)
{
    VIRTUAL_STORAGE_TYPE vhdx = { VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    VIRTUAL_STORAGE_TYPE unknown = { VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    VDS_CREATE_VDISK_PARAMETERS params;
    VDS_VDISK_PROPERTIES props;
    IVdsVDisk *vdisk, *again;
    IVdsAsync *async = NULL;
    WCHAR path[MAX_PATH];
    HRESULT task;

    /* What this test creates is not there yet, whatever ran before. */
    no_file(L"created-child.vhdx");
    no_file(L"created.vhdx");
    no_file(L"created-fixed.vhd");
    no_file(L"created-nullsd.vhdx");
    no_file(L"created-waits.vhd");
    no_file(L"not-a-disk.vhdx");
    memset(&params, 0, sizeof(params));
    params.MaximumSize = 64 << 20;
    path_of(L"created.vhdx", path);
    ok_null_out(IVdsVdProvider_CreateVDisk(prov, NULL, path, (WCHAR *)L"", 0, 0, 0, &params, &async), "CreateVDisk(NULL type)");
    ok_null_out(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", 0, 0, 0, NULL, &async), "CreateVDisk(NULL parameters)");
    /* ppAsync is [in, out]: a sentinel can only be passed in process. */
    async = clsctx == CLSCTX_INPROC_SERVER ? (void *)0xdeadbeef : NULL;
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, (WCHAR *)L"relative.vhdx", (WCHAR *)L"", 0, 0, 0, &params, &async),
          VDS_E_VDISK_PATHNAME_INVALID, "CreateVDisk(relative path)");
    ok(async == NULL, "a refused CreateVDisk clears ppAsync");
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &unknown, path, (WCHAR *)L"", 0, 0, 0, &params, &async), E_INVALIDARG,
          "CreateVDisk(device type UNKNOWN)");
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", 2, 0, 0, &params, &async), E_INVALIDARG,
          "CreateVDisk(unknown flag)");
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", 0, 1, 0, &params, &async), E_INVALIDARG,
          "CreateVDisk(provider-specific flag)");
    params.pSourcePath = path;
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", 0, 0, 0, &params, &async), VDS_E_NOT_SUPPORTED,
          "CreateVDisk(pSourcePath)");
    params.pSourcePath = NULL;
    params.pParentPath = path;
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION,
                                     0, 0, &params, &async), E_INVALIDARG, "CreateVDisk(fixed child)");
    ok(GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES, "no refused call made a file");

    /* A dynamic VHDX: the output is the provider's VDisk for the path. */
    task = create(prov, L"created.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, 0, 64 << 20, NULL, L"", &vdisk);
    ok_hr(task, S_OK, "the create task");
    if (vdisk)
    {
        memset(&props, 0, sizeof(props));
        ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties of the new disk");
        ok(props.VirtualSize == 64 << 20 && props.bIsChild == FALSE && props.State == VDS_VST_ADDED,
           "64 MiB, not a child, state ADDED (%llu, %d, %d)", props.VirtualSize, props.bIsChild, props.State);
        ok(props.pPath && !_wcsicmp(props.pPath, path), "its path");
        CoTaskMemFree(props.pPath);
        CoTaskMemFree(props.pParentPath);
        if ((again = add_vdisk(prov, L"created.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX)))
        {
            IUnknown *a, *b;
            IVdsVDisk_QueryInterface(vdisk, &IID_IUnknown, (void **)&a);
            IVdsVDisk_QueryInterface(again, &IID_IUnknown, (void **)&b);
            ok(a == b, "AddVDisk of the new path returns the same object");
            IUnknown_Release(a);
            IUnknown_Release(b);
            IVdsVDisk_Release(again);
        }
        IVdsVDisk_Release(vdisk);
    }

    /* The same path again: "returns an interface pointer to the existing
     * virtual disk object without re-creating the file" (the SDK page). */
    {
        ULONGLONG stamp = file_stamp(path);
        task = create(prov, L"created.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, 0, 8 << 20, NULL, L"", &vdisk);
        ok_hr(task, S_OK, "creating over an existing virtual disk");
        ok(vdisk != NULL && file_stamp(path) == stamp, "its VDisk, and the file untouched");
        if (vdisk)
        {
            memset(&props, 0, sizeof(props));
            ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties");
            ok(props.VirtualSize == 64 << 20, "still 64 MiB (%llu)", props.VirtualSize);
            CoTaskMemFree(props.pPath);
            IVdsVDisk_Release(vdisk);
        }
    }
    /* A file that is no virtual disk is not "the virtual disk": untouched, refused. */
    {
        WCHAR text[MAX_PATH];
        HANDLE h;
        DWORD n;
        ULONGLONG stamp;

        path_of(L"not-a-disk.vhdx", text);
        h = CreateFileW(text, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
        WriteFile(h, "hello, not a disk\n", 18, &n, NULL);
        CloseHandle(h);
        stamp = file_stamp(text);
        task = create(prov, L"not-a-disk.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, 0, 8 << 20, NULL, L"", &vdisk);
        ok_hr(task, ERROR_VIRTDISK_NOT_VIRTUAL_DISK_HR, "creating over a file that is no virtual disk");
        ok(vdisk == NULL && file_stamp(text) == stamp && file_size(text) == 18, "... which is left as it was");
        task = create(prov, L"created.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHD, 0, 8 << 20, NULL, L"", &vdisk);
        ok_hr(task, ERROR_VHD_FORMAT_UNKNOWN_HR, "creating a VHD over an existing VHDX");
        ok(vdisk == NULL, "... gives no VDisk");
    }

    /* A NULL security descriptor: the caller's token is used (the SDK page, MS-VDS). */
    task = create(prov, L"created-nullsd.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, 0, 16 << 20, NULL, NULL, &vdisk);
    ok_hr(task, S_OK, "CreateVDisk with a NULL security descriptor");
    if (vdisk)
    {
        /* Reference counts: each Wait AddRefs the output once, the caller releases it. */
        if (clsctx == CLSCTX_INPROC_SERVER)
        {
            ULONG before = refcount((IUnknown *)vdisk);
            VDS_VDISK_PROPERTIES p;
            IVdsVDisk *again;
            int i;

            /* The worker lets go of the job, and its reference, just after signalling. */
            for (i = 0; i < 100 && before > 1; i++)
            {
                Sleep(10);
                before = refcount((IUnknown *)vdisk);
            }
            again = add_vdisk(prov, L"created-nullsd.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX);
            /* The provider keeps the shared VDisk; this COM object is the client's own view of it. */
            ok(before == 1, "this client alone holds its object for the new VDisk (%lu)", before);
            ok(again == vdisk, "AddVDisk of its path gives the client the same object");
            if (again) IVdsVDisk_Release(again);
            memset(&p, 0, sizeof(p));
            ok_hr(IVdsVDisk_GetProperties(vdisk, &p), S_OK, "GetProperties");
            CoTaskMemFree(p.pPath);
        }
        IVdsVDisk_Release(vdisk);
    }
    /* Repeated Waits on one create: each returns the VDisk AddRef'd once. */
    {
        VIRTUAL_STORAGE_TYPE vhd = { VIRTUAL_STORAGE_TYPE_DEVICE_VHD, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
        VDS_ASYNC_OUTPUT out[3];
        IVdsVDisk *v;
        HRESULT hr;
        int i;

        path_of(L"created-waits.vhd", path);
        memset(&params, 0, sizeof(params));
        params.MaximumSize = 8 << 20;
        async = NULL;
        hr = IVdsVdProvider_CreateVDisk(prov, &vhd, path, NULL, 0, 0, 0, &params, &async);
        ok_hr(hr, S_OK, "CreateVDisk for repeated Waits");
        if (hr == S_OK)
        {
            for (i = 0; i < 3; i++) ok_hr(wait_task(async, &out[i]), S_OK, "a Wait of the create");
            ok(out[0].cvd.pVDiskUnk && out[0].cvd.pVDiskUnk == out[1].cvd.pVDiskUnk
               && out[1].cvd.pVDiskUnk == out[2].cvd.pVDiskUnk, "three Waits, one VDisk");
            if (out[0].cvd.pVDiskUnk && clsctx == CLSCTX_INPROC_SERVER)
            {
                ULONG three = refcount(out[0].cvd.pVDiskUnk);
                for (i = 0; i < 3; i++) IUnknown_Release(out[i].cvd.pVDiskUnk);
                v = add_vdisk(prov, L"created-waits.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD);
                ok(v && refcount((IUnknown *)v) == three - 3 + 1, "balanced: %lu references with three Waits, "
                   "%lu after releasing them (and one AddVDisk)", three, v ? refcount((IUnknown *)v) : 0);
                if (v) IVdsVDisk_Release(v);
            }
            else if (out[0].cvd.pVDiskUnk)
            {
                /* Across processes each Wait's pointer is a proxy reference of its own. */
                for (i = 0; i < 3; i++) IUnknown_Release(out[i].cvd.pVDiskUnk);
                printf("# out of process: server reference counts are not visible, balance checked in process\n");
            }
            IVdsAsync_Release(async);
        }
    }

    /* A fixed VHD: its data is all there. */
    task = create(prov, L"created-fixed.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD,
                  CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION, 8 << 20, NULL, L"", &vdisk);
    ok_hr(task, S_OK, "creating a fixed VHD");
    path_of(L"created-fixed.vhd", path);
    ok(file_size(path) == (8 << 20) + 512, "a fixed VHD is its data and a footer (%llu bytes)", file_size(path));
    if (vdisk) IVdsVDisk_Release(vdisk);

    /* A child of the new VHDX: its size and parent come from the parent. */
    task = create(prov, L"created-child.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, 0, 0, L"created.vhdx", L"", &vdisk);
    ok_hr(task, S_OK, "creating a differencing VHDX");
    if (vdisk)
    {
        memset(&props, 0, sizeof(props));
        ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties of the child");
        ok(props.bIsChild == TRUE && props.VirtualSize == 64 << 20, "a child of the parent's size");
        ok(props.pParentPath && wcsstr(props.pParentPath, L"created.vhdx"), "its parent path %ls",
           props.pParentPath ? props.pParentPath : L"(null)");
        CoTaskMemFree(props.pPath);
        CoTaskMemFree(props.pParentPath);
        IVdsVDisk_Release(vdisk);
    }
}

/* Start an operation through start, expect the method's S_OK, return the task's result. */
static HRESULT run_task(HRESULT method, IVdsAsync *async, VDS_ASYNC_OUTPUT_TYPE type, const char *what)
{
    VDS_ASYNC_OUTPUT out;
    HRESULT task;

    ok_hr(method, S_OK, what);
    if (method != S_OK) return method;
    task = wait_task(async, &out);
    if (task == S_OK) ok(out.type == type, "%s: VDS_ASYNC_OUTPUT.type %d is %d", what, out.type, type);
    else ok(output_zeroed(&out), "%s: a failed task's VDS_ASYNC_OUTPUT is zeros", what);
    IVdsAsync_Release(async);
    return task;
}

void test_expand(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = (void *)0xdeadbeef;
    VDS_VDISK_PROPERTIES props;
    HRESULT hr;
    HANDLE hold;

    if (!fixture(L"grow.vhdx") || !fixture(L"fixed-grow.vhd") || !fixture(L"fixed-grow.vhdx")) return;
    if (!(open = open_disk(prov, L"grow.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
        return;
    ok_hr(IVdsOpenVDisk_Expand(open, 1, 256 << 20, &async), E_INVALIDARG, "Expand(flag 1)");
    ok(async == NULL, "a refused Expand clears ppAsync");
    ok_null_out(IVdsOpenVDisk_Expand(open, 0, 256 << 20, NULL), "Expand(NULL ppAsync)");
    /* The OS refuses a smaller size: the task's result (MS-VDS §3.4.5.2.41.6). */
    hr = IVdsOpenVDisk_Expand(open, 0, 16 << 20, &async);
    ok_hr(run_task(hr, async, VDS_ASYNCOUT_EXPAND_VDISK, "Expand to a smaller size"), E_INVALIDARG,
          "... its task fails with E_INVALIDARG");
    ok_hr(attach(open, TRUE), S_OK, "attach before Expand");
    async = (void *)0xdeadbeef;
    ok_hr(IVdsOpenVDisk_Expand(open, 0, 256 << 20, &async), VDS_E_VD_IS_ATTACHED, "Expand while attached (<147>)");
    ok(async == NULL, "... clears ppAsync");
    ok_hr(IVdsOpenVDisk_Detach(open, 0, 0), S_OK, "Detach");
    /* Held running: the state, and what the other calls say meanwhile. */
    hold = hold_jobs();
    hr = IVdsOpenVDisk_Expand(open, 0, 256 << 20, &async);
    ok_hr(hr, S_OK, "Expand to 256 MiB (held)");
    if (hr == S_OK)
    {
        IVdsAsync *other = (void *)0xdeadbeef;

        ok(vdisk_state(vdisk) == VDS_VST_EXPANDING, "state is VDS_VST_EXPANDING");
        ok_hr(IVdsOpenVDisk_Expand(open, 0, 512 << 20, &other), VDS_E_VD_DISK_ALREADY_EXPANDING, "a second Expand");
        ok(other == NULL, "... clears ppAsync");
        ok_hr(IVdsOpenVDisk_Compact(open, 0, 0, &other), VDS_E_VD_DISK_IS_EXPANDING, "Compact while expanding");
        ok_hr(IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &other),
              VDS_E_VD_DISK_IS_EXPANDING, "Attach while expanding");
        ok_hr(IVdsOpenVDisk_Detach(open, 0, 0), VDS_E_VD_DISK_IS_EXPANDING, "Detach while expanding");
        release_jobs(hold);
        ok_hr(run_task(S_OK, async, VDS_ASYNCOUT_EXPAND_VDISK, "the expand task"), S_OK, "the expand task's result");
    }
    else release_jobs(hold);
    memset(&props, 0, sizeof(props));
    ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties after Expand");
    ok(props.VirtualSize == 256 << 20 && props.State == VDS_VST_OPEN, "256 MiB, state OPEN (%llu, %d)",
       props.VirtualSize, props.State);
    CoTaskMemFree(props.pPath);
    IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);

    /* Without METAOPS: the OS refuses, so the task says it. */
    if ((open = open_disk(prov, L"grow.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_GET_INFO, 1, &vdisk)))
    {
        hr = IVdsOpenVDisk_Expand(open, 0, 512 << 20, &async);
        ok_hr(run_task(hr, async, VDS_ASYNCOUT_EXPAND_VDISK, "Expand without METAOPS"), E_ACCESSDENIED,
              "... its task fails with E_ACCESSDENIED");
        IVdsOpenVDisk_Release(open);
    }
    if (vdisk) IVdsVDisk_Release(vdisk);
    /* Fixed disks grow too (the SDK Expand page): run.sh checks them with qemu. */
    {
        static const struct { const WCHAR *name; ULONG device; } fixed[] =
        {
            { L"fixed-grow.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD },
            { L"fixed-grow.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX },
        };
        unsigned i;

        for (i = 0; i < 2; i++)
        {
            if (!(open = open_disk(prov, fixed[i].name, fixed[i].device, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
            {
                if (vdisk) IVdsVDisk_Release(vdisk);
                continue;
            }
            hr = IVdsOpenVDisk_Expand(open, 0, 48 << 20, &async);
            ok_hr(run_task(hr, async, VDS_ASYNCOUT_EXPAND_VDISK, "Expand of a fixed disk"), S_OK,
                  "a fixed disk grows to 48 MiB");
            memset(&props, 0, sizeof(props));
            ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties");
            ok(props.VirtualSize == 48 << 20 && props.DiskFlag == DEPENDENT_DISK_FLAG_FULLY_ALLOCATED,
               "%ls: 48 MiB, still fully allocated (%llu, %#x)", fixed[i].name, props.VirtualSize, props.DiskFlag);
            CoTaskMemFree(props.pPath);
            IVdsOpenVDisk_Release(open);
            IVdsVDisk_Release(vdisk);
        }
    }
}

void test_merge(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = (void *)0xdeadbeef;
    WCHAR path[MAX_PATH];
    HRESULT hr;
    HANDLE hold;

    if (!fixture(L"chain")) return;
    path_of(L"chain\\child.vhdx", path);
    /* ReadWriteDepth 1 opens only the child read-write: the parent cannot be written. */
    if ((open = open_disk(prov, L"chain\\child.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
    {
        ok_hr(IVdsOpenVDisk_Merge(open, 1, 1, &async), E_INVALIDARG, "Merge(flag 1)");
        ok(async == NULL, "a refused Merge clears ppAsync");
        ok_null_out(IVdsOpenVDisk_Merge(open, 0, 1, NULL), "Merge(NULL ppAsync)");
        /* Depths are the OS's to judge: the task says so (MS-VDS §3.4.5.2.41.5). */
        hr = IVdsOpenVDisk_Merge(open, 0, 1, &async);
        ok_hr(run_task(hr, async, VDS_ASYNCOUT_MERGE_VDISK, "Merge(depth 1) with ReadWriteDepth 1"), E_INVALIDARG,
              "... its task fails with E_INVALIDARG");
        hr = IVdsOpenVDisk_Merge(open, 0, 0, &async);
        ok_hr(run_task(hr, async, VDS_ASYNCOUT_MERGE_VDISK, "Merge(depth 0)"), E_INVALIDARG,
              "... its task fails with E_INVALIDARG");
        IVdsOpenVDisk_Release(open);
    }
    if (vdisk) IVdsVDisk_Release(vdisk);
    /* As the spec's example: ReadWriteDepth 2 for MergeDepth 1. */
    if ((open = open_disk(prov, L"chain\\child.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 2, &vdisk)))
    {
        hr = IVdsOpenVDisk_Merge(open, 0, 2, &async);
        ok_hr(run_task(hr, async, VDS_ASYNCOUT_MERGE_VDISK, "Merge(depth 2) with ReadWriteDepth 2"), E_INVALIDARG,
              "... its task fails with E_INVALIDARG");
        hold = hold_jobs();
        hr = IVdsOpenVDisk_Merge(open, 0, 1, &async);
        ok_hr(hr, S_OK, "Merge(depth 1) (held)");
        if (hr == S_OK)
        {
            IVdsAsync *other = (void *)0xdeadbeef;

            ok(vdisk_state(vdisk) == VDS_VST_MERGING, "state is VDS_VST_MERGING");
            ok_hr(IVdsOpenVDisk_Merge(open, 0, 1, &other), VDS_E_VD_ALREADY_MERGING, "a second Merge");
            ok(other == NULL, "... clears ppAsync");
            ok_hr(IVdsOpenVDisk_Expand(open, 0, 1ull << 30, &other), VDS_E_VD_DISK_IS_MERGING, "Expand while merging");
            ok_hr(IVdsOpenVDisk_Compact(open, 0, 0, &other), VDS_E_VD_DISK_IS_MERGING, "Compact while merging");
            ok_hr(IVdsOpenVDisk_Attach(open, NULL, 0, 0, 0, &other), VDS_E_VD_DISK_IS_MERGING, "Attach while merging");
            release_jobs(hold);
            ok_hr(run_task(S_OK, async, VDS_ASYNCOUT_MERGE_VDISK, "the merge task"), S_OK, "the merge task's result");
        }
        else release_jobs(hold);
        IVdsOpenVDisk_Release(open);
    }
    if (vdisk) IVdsVDisk_Release(vdisk);
    /* A disk with no parent: the task says it is the wrong type. */
    if ((open = open_disk(prov, L"chain\\parent.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 2, &vdisk)))
    {
        hr = IVdsOpenVDisk_Merge(open, 0, 1, &async);
        ok_hr(run_task(hr, async, VDS_ASYNCOUT_MERGE_VDISK, "Merge of a disk with no parent"), ERROR_VHD_INVALID_TYPE_HR,
              "... its task fails with ERROR_VHD_INVALID_TYPE");
        IVdsOpenVDisk_Release(open);
    }
    if (vdisk) IVdsVDisk_Release(vdisk);
}

/* A differencing disk compacted through COM: run.sh reads the chain back (qemu reads no differencing VHDX). */
void test_compact_child(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = NULL;
    HRESULT hr;

    if (!fixture(L"chain2") || !fixture(L"dyn.vhd")) return;
    if ((open = open_disk(prov, L"chain2\\child.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
    {
        hr = IVdsOpenVDisk_Compact(open, 0, 0, &async);
        ok_hr(run_task(hr, async, VDS_ASYNCOUT_COMPACT_VDISK, "Compact of a differencing disk"), S_OK,
              "the differencing disk's compaction");
        IVdsOpenVDisk_Release(open);
    }
    if (vdisk) IVdsVDisk_Release(vdisk);
    /* ReadWriteDepth 0 opens nothing read-write: the compaction cannot write [U]. */
    if ((open = open_disk(prov, L"dyn.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD, VIRTUAL_DISK_ACCESS_ALL, 0, &vdisk)))
    {
        WCHAR path[MAX_PATH];
        ULONGLONG before;

        path_of(L"dyn.vhd", path);
        before = file_stamp(path);
        hr = IVdsOpenVDisk_Compact(open, 0, 0, &async);
        ok_hr(run_task(hr, async, VDS_ASYNCOUT_COMPACT_VDISK, "Compact with ReadWriteDepth 0"), E_ACCESSDENIED,
              "... its task fails with E_ACCESSDENIED");
        ok(file_stamp(path) == before, "... and the file is untouched");
        IVdsOpenVDisk_Release(open);
    }
    if (vdisk) IVdsVDisk_Release(vdisk);
}

void test_detach_and_delete(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = (void *)0xdeadbeef;
    VDS_VDISK_PROPERTIES props;
    WCHAR path[MAX_PATH];

    if (!fixture(L"created-fixed.vhd")) return;
    path_of(L"created-fixed.vhd", path);
    /* A handle without METAOPS or DETACH access cannot delete. */
    if ((open = open_disk(prov, L"created-fixed.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD, VIRTUAL_DISK_ACCESS_GET_INFO, 1, &vdisk)))
    {
        ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 0), E_ACCESSDENIED, "DetachAndDelete without METAOPS or DETACH");
        ok(GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES, "... the file is still there");
        IVdsOpenVDisk_Release(open);
    }
    if (vdisk) IVdsVDisk_Release(vdisk);
    if (!(open = open_disk(prov, L"created-fixed.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
    {
        if (vdisk) IVdsVDisk_Release(vdisk);
        return;
    }
    /* Detached: the detach, its first step, fails, and nothing is deleted (§3.4.5.2.41.3). */
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 0), VDS_E_VD_ALREADY_DETACHED, "DetachAndDelete of a detached disk");
    ok(GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES, "... the file is still there");
    ok(vdisk_state(vdisk) == VDS_VST_OPEN, "... and the disk still open");
    ok_hr(attach(open, TRUE), S_OK, "Attach before DetachAndDelete");
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 1, 0), E_INVALIDARG, "DetachAndDelete(flag 1)");
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 1), E_INVALIDARG, "DetachAndDelete(provider flag 1)");
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 0), S_OK, "DetachAndDelete");
    ok(GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES, "the backing file is gone");
    memset(&props, 0x55, sizeof(props));
    ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties of a deleted disk");
    ok(props.State == VDS_VST_DELETED, "state %d is VDS_VST_DELETED", props.State);
    CoTaskMemFree(props.pPath);
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 0), VDS_E_OBJECT_DELETED, "DetachAndDelete again");
    ok_hr(IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &async), VDS_E_OBJECT_DELETED,
          "Attach after DetachAndDelete");
    ok_hr(IVdsOpenVDisk_Compact(open, 0, 0, &async), VDS_E_OBJECT_DELETED, "Compact after DetachAndDelete");
    ok_hr(IVdsOpenVDisk_Expand(open, 0, 64 << 20, &async), VDS_E_OBJECT_DELETED, "Expand after DetachAndDelete");
    IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);
}

/* One operation at a time: the others are told which one runs. */
void test_busy_states(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = NULL, *other = (void *)0xdeadbeef;
    VDS_ASYNC_OUTPUT out;
    HRESULT hr, status = 0x55;
    ULONG pct = 0x55;
    HANDLE hold;

    if (!fixture(L"busy3.vhdx")) return;
    if (!(open = open_disk(prov, L"busy3.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 2, &vdisk)))
    {
        if (vdisk) IVdsVDisk_Release(vdisk);
        return;
    }
    hold = hold_jobs();
    hr = IVdsOpenVDisk_Compact(open, 0, 0, &async);
    ok_hr(hr, S_OK, "Compact (held running)");
    if (hr != S_OK)
    {
        release_jobs(hold);
        goto done;
    }
    ok_hr(IVdsAsync_QueryStatus(async, &status, &pct), S_OK, "QueryStatus");
    ok(status == VDS_E_OPERATION_PENDING && pct == 0, "pending: %#lx (0x80042409), percent %lu", (unsigned long)status, pct);
    ok(vdisk_state(vdisk) == VDS_VST_COMPACTING, "state is VDS_VST_COMPACTING");
    ok_hr(IVdsOpenVDisk_Compact(open, 0, 0, &other), VDS_E_VD_ALREADY_COMPACTING, "a second Compact");
    ok(other == NULL, "... clears ppAsync");
    other = (void *)0xdeadbeef;
    ok_hr(IVdsOpenVDisk_Expand(open, 0, 2ull << 30, &other), VDS_E_VD_DISK_IS_COMPACTING, "Expand while compacting");
    ok(other == NULL, "... clears ppAsync");
    ok_hr(IVdsOpenVDisk_Merge(open, 0, 1, &other), VDS_E_VD_DISK_IS_COMPACTING, "Merge while compacting");
    ok_hr(IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &other), VDS_E_VD_DISK_IS_COMPACTING,
          "Attach while compacting");
    ok_hr(IVdsOpenVDisk_Detach(open, 0, 0), VDS_E_VD_DISK_IS_COMPACTING, "Detach while compacting");
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 0), VDS_E_VD_DISK_IS_COMPACTING, "DetachAndDelete while compacting");
    ok_hr(IVdsAsync_Cancel(async), S_OK, "Cancel of the held compaction");
    release_jobs(hold);
    ok_hr(wait_task(async, &out), VDS_E_OPERATION_CANCELED, "its result");
    ok(output_zeroed(&out), "a cancelled task's VDS_ASYNC_OUTPUT is zeros");
    ok_hr(IVdsAsync_QueryStatus(async, &status, &pct), S_OK, "QueryStatus");
    ok(status == VDS_E_OPERATION_CANCELED && pct == 0, "cancelled: %#lx, percent %lu", (unsigned long)status, pct);
    IVdsAsync_Release(async);
    ok(vdisk_state(vdisk) == VDS_VST_OPEN, "cancelled: back to VDS_VST_OPEN");
done:
    IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);
}

/* Cancel of a job that cannot be cancelled: said at once, the job runs on. */
void test_cancel_rules(IVdsVdProvider *prov)
{
    VIRTUAL_STORAGE_TYPE vhdx = { VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    VDS_CREATE_VDISK_PARAMETERS params;
    VDS_ASYNC_OUTPUT out;
    IVdsAsync *async = NULL;
    WCHAR path[MAX_PATH];
    HRESULT hr, status = 0x55;
    ULONG pct = 0x55;
    HANDLE hold;

    no_file(L"created-cancel.vhdx");
    path_of(L"created-cancel.vhdx", path);
    memset(&params, 0, sizeof(params));
    params.MaximumSize = 16 << 20;
    hold = hold_jobs();
    hr = IVdsVdProvider_CreateVDisk(prov, &vhdx, path, NULL, 0, 0, 0, &params, &async);
    ok_hr(hr, S_OK, "CreateVDisk (held)");
    if (hr != S_OK)
    {
        release_jobs(hold);
        return;
    }
    ok_hr(IVdsAsync_Cancel(async), VDS_E_NOT_SUPPORTED, "Cancel of a create: it cannot be cancelled");
    ok_hr(IVdsAsync_QueryStatus(async, &status, &pct), S_OK, "QueryStatus");
    ok(status == VDS_E_OPERATION_PENDING, "... and it still runs (%#lx)", (unsigned long)status);
    release_jobs(hold);
    ok_hr(wait_task(async, &out), S_OK, "the create finished");
    if (out.cvd.pVDiskUnk) IUnknown_Release(out.cvd.pVDiskUnk);
    ok_hr(IVdsAsync_Cancel(async), VDS_E_CANCEL_TOO_LATE, "Cancel after it succeeded");
    IVdsAsync_Release(async);
}

/* Two threads call Compact on one handle at the same moment: the check and
 * the change are one step, so exactly one wins, every time. */
struct racer
{
    IVdsOpenVDisk *open;
    HANDLE go;
    HRESULT hr;
    IVdsAsync *async;
};

static DWORD WINAPI racer_thread(void *arg)
{
    struct racer *r = arg;

    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    WaitForSingleObject(r->go, INFINITE);
    r->hr = IVdsOpenVDisk_Compact(r->open, 0, 0, &r->async);
    CoUninitialize();
    return 0;
}

/* Polls QueryStatus until the task has ended or ms have passed: a task that
 * never ends fails its check instead of hanging the suite (and says so). */
static BOOL task_done_within(IVdsAsync *async, DWORD ms)
{
    DWORD start = GetTickCount();
    HRESULT status;
    ULONG pct;

    do
    {
        if (IVdsAsync_QueryStatus(async, &status, &pct) != S_OK) return FALSE;
        if (status != VDS_E_OPERATION_PENDING) return TRUE;
        Sleep(5);
    } while (GetTickCount() - start < ms);
    return FALSE;
}

/* Two Opens of one VDisk, and two Attaches of one handle, at the same moment:
 * the handle that exists, and the attachment, stay until released, so
 * exactly one of each pair wins whatever the timing. */
struct pair_racer
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    HANDLE go;
    HRESULT hr;
    IVdsOpenVDisk *opened;
    IVdsAsync *async;
};

static DWORD WINAPI open_racer(void *arg)
{
    struct pair_racer *r = arg;

    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    WaitForSingleObject(r->go, INFINITE);
    r->hr = IVdsVDisk_Open(r->vdisk, VIRTUAL_DISK_ACCESS_ALL, 0, 1, &r->opened);
    CoUninitialize();
    return 0;
}

static DWORD WINAPI attach_racer(void *arg)
{
    struct pair_racer *r = arg;

    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    WaitForSingleObject(r->go, INFINITE);
    r->hr = IVdsOpenVDisk_Attach(r->open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &r->async);
    CoUninitialize();
    return 0;
}

/* Run two racers; the HRESULTs in r[0].hr, r[1].hr. */
static void race(LPTHREAD_START_ROUTINE fn, struct pair_racer r[2])
{
    HANDLE go = CreateEventW(NULL, TRUE, FALSE, NULL), threads[2];
    int i;

    for (i = 0; i < 2; i++)
    {
        r[i].go = go;
        threads[i] = CreateThread(NULL, 0, fn, &r[i], 0, NULL);
    }
    SetEvent(go);
    if (WaitForMultipleObjects(2, threads, TRUE, 120000) != WAIT_OBJECT_0)
        ok(0, "two racing calls did not both return within 120 s (%#lx, %#lx so far)", (unsigned long)r[0].hr,
           (unsigned long)r[1].hr);
    for (i = 0; i < 2; i++) CloseHandle(threads[i]);
    CloseHandle(go);
}

void test_atomic_open_attach(IVdsVdProvider *prov)
{
    enum { ROUNDS = 100 };
    IVdsVDisk *vdisk = add_vdisk(prov, L"race.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX);
    unsigned round, opens = 0, attaches = 0;

    if (!fixture(L"race.vhdx")) return;
    if (!vdisk) return;
    for (round = 0; round < ROUNDS; round++)
    {
        struct pair_racer r[2];
        IVdsOpenVDisk *winner = NULL;
        VDS_ASYNC_OUTPUT out;
        int i, won = 0, lost = 0;

        memset(r, 0, sizeof(r));
        r[0].vdisk = r[1].vdisk = vdisk;
        race(open_racer, r);
        for (i = 0; i < 2; i++)
        {
            if (r[i].hr == S_OK && r[i].opened) { won++; winner = r[i].opened; }
            else if (r[i].hr == VDS_E_VD_DISK_ALREADY_OPEN && !r[i].opened) lost++;
        }
        if (won == 1 && lost == 1) opens++;
        else printf("# open round %u: %#lx and %#lx\n", round, (unsigned long)r[0].hr, (unsigned long)r[1].hr);
        for (i = 0; i < 2; i++) if (r[i].opened && r[i].opened != winner) IVdsOpenVDisk_Release(r[i].opened);
        if (!winner) continue;

        memset(r, 0, sizeof(r));
        r[0].open = r[1].open = winner;
        race(attach_racer, r);
        won = lost = 0;
        for (i = 0; i < 2; i++)
        {
            if (r[i].hr == S_OK && r[i].async)
            {
                won++;
                if (!task_done_within(r[i].async, 120000) || wait_task(r[i].async, &out) != S_OK) won = 99;
                IVdsAsync_Release(r[i].async);
            }
            else if (r[i].hr == VDS_E_VD_ALREADY_ATTACHED && !r[i].async) lost++;
        }
        if (won == 1 && lost == 1) attaches++;
        else printf("# attach round %u: %#lx and %#lx\n", round, (unsigned long)r[0].hr, (unsigned long)r[1].hr);
        if (won) IVdsOpenVDisk_Detach(winner, 0, 0);
        IVdsOpenVDisk_Release(winner);
    }
    ok(opens == ROUNDS, "two Opens at once: one S_OK, one VDS_E_VD_DISK_ALREADY_OPEN in %u of %u rounds", opens,
       (unsigned)ROUNDS);
    ok(attaches == ROUNDS, "two Attaches at once: one S_OK, one VDS_E_VD_ALREADY_ATTACHED in %u of %u rounds",
       attaches, (unsigned)ROUNDS);
    ok(vdisk_state(vdisk) == VDS_VST_ADDED, "after the races: detached and closed (VDS_VST_ADDED)");
    IVdsVDisk_Release(vdisk);
}

void test_atomic_state(IVdsVdProvider *prov)
{
    enum { ROUNDS = 200 };
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    unsigned round, exact = 0;

    if (!fixture(L"race.vhdx")) return;
    if (!(open = open_disk(prov, L"race.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
    {
        if (vdisk) IVdsVDisk_Release(vdisk);
        return;
    }
    for (round = 0; round < ROUNDS; round++)
    {
        struct racer r[2] = { { open, NULL, 0x55, NULL }, { open, NULL, 0x55, NULL } };
        HANDLE go = CreateEventW(NULL, TRUE, FALSE, NULL), threads[2], hold = hold_jobs();
        VDS_ASYNC_OUTPUT out;
        int i, winners = 0, losers = 0;

        for (i = 0; i < 2; i++)
        {
            r[i].go = go;
            threads[i] = CreateThread(NULL, 0, racer_thread, &r[i], 0, NULL);
        }
        SetEvent(go);
        /* Bounded: a call that never returns is reported where it hangs. */
        if (WaitForMultipleObjects(2, threads, TRUE, 120000) != WAIT_OBJECT_0)
        {
            release_jobs(hold);
            ok(0, "round %u: the two Compacts did not both return within 120 s", round);
            break;
        }
        release_jobs(hold);
        for (i = 0; i < 2; i++)
        {
            CloseHandle(threads[i]);
            if (r[i].hr == S_OK)
            {
                winners++;
                if (!task_done_within(r[i].async, 120000))
                {
                    ok(0, "round %u: the winning compaction did not end within 120 s of its release", round);
                    winners = 99;
                }
                else if (wait_task(r[i].async, &out) != S_OK) winners = 99;
                IVdsAsync_Release(r[i].async);
            }
            else if (r[i].hr == VDS_E_VD_ALREADY_COMPACTING && r[i].async == NULL) losers++;
        }
        CloseHandle(go);
        if (winners == 99) break;
        if (winners == 1 && losers == 1) exact++;
        else printf("# round %u: %#lx and %#lx\n", round, (unsigned long)r[0].hr, (unsigned long)r[1].hr);
    }
    ok(exact == ROUNDS, "two Compacts at once: one S_OK, one VDS_E_VD_ALREADY_COMPACTING in %u of %u rounds", exact,
       (unsigned)ROUNDS);
    IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);
}
