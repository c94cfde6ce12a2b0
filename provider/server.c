/*
 * vdsshim_server.exe: the shared Virtual Disk Service of a Wine prefix.
 *
 * Windows hands every CLSCTX_LOCAL_SERVER client of CLSID_VdsLoader the
 * same service, vds.exe, so one client's attached disk is listed, opened
 * and detached by another. Here the class is registered as a LocalServer32
 * (register.c) and this process registers a REGCLS_MULTIPLEUSE class
 * object: Wine's COM starts it on the first activation and connects every
 * later one to it [V: Wine 8, two clients in turn reached one server]. A
 * Windows service named by the AppID's LocalService would be Windows'
 * wiring, but it needs the prefix's service manager running and cannot
 * stop itself when idle without a second mechanism; a LocalServer32 has
 * COM's own start-on-demand and needs nothing else (the choice, §14 of
 * the issue).
 *
 * One server per prefix. Clients that start at the same moment may each
 * launch one [V: four clients at once started three; all four reached the
 * first to register]: a named mutex keeps the first. The others serve
 * nothing and exit, but not at once: Wine's client waits on the process it
 * launched and fails with E_NOINTERFACE if that process ends before the
 * class object appears, which it looks for once a second [V: Wine 8
 * combase rpc_get_local_class_object]. So they linger EXTRA_LINGER_MS, and
 * take over if the holder stops meanwhile.
 *
 * Lifetime. Nothing keeps the server but what it serves: it stops once no
 * object, server lock or job has lived for the grace time (5 s, or
 * VDSSHIM_SERVER_IDLE_MS), and no disk is attached, since an attachment
 * holds the provider alive as Windows' service stays up. Objects of clients
 * that died are disconnected (client.c), so they do not hold it. The stop
 * revokes the class object first, then checks-and-sets under the lock
 * CreateInstance takes (factory.c); an activation that slipped in between
 * makes the server register again and carry on.
 *
 * A deadlock of Wine 8's combase is kept away: when the last stub of an
 * interface in the apartment goes (a RemRelease), rpc_unregister_interface
 * holds its registration lock while RpcServerUnregisterIf waits for that
 * interface's calls in progress, and those calls wait for the same lock to
 * marshal their results [V: backtraces of a hung clean-clone run, 8 clients
 * at once]. So the server registers every interface it serves once, for
 * its whole life, through table-strong marshals of an object that answers
 * nothing and is never handed out: their stubs keep each registration's
 * count above zero, and no interface is ever unregistered.
 *
 * One race is Wine's and stays: a client that rpcss handed the class
 * object's reference to just before the revoke fails its activation
 * (E_FAIL; most likely because the reference is to Wine's local-server
 * wrapper, which answers nothing once revoked [U]), where Windows' COM
 * would retry. Measured: 1 in 50
 * activations timed to land on the stop (sleeps of 0.8-1.4 s around a 1 s
 * idle time). With the default 5 s it takes a client that starts exactly
 * then; tests that start clients back to back wait for the stop first.
 */
#include <stdlib.h>

#include "provider_private.h"

#define SERVER_MUTEX L"vdsshim-vds-server"
#define SERVER_STOPPING_EVENT L"vdsshim-vds-server-stopping"
#define DEFAULT_IDLE_MS 5000
#define POLL_MS 100
#define EXTRA_LINGER_MS 3000
/* Before its first activation: Wine's client looks for the class object it
 * launched a server for once a second, and fails if that server has gone
 * (E_NOINTERFACE) [V: combase]. So a new server waits at least this long. */
#define FIRST_CLIENT_MS 10000

static DWORD idle_grace_ms(void)
{
    WCHAR value[16];
    DWORD n = GetEnvironmentVariableW(L"VDSSHIM_SERVER_IDLE_MS", value, ARRAYSIZE(value));

    return n && n < ARRAYSIZE(value) ? wcstoul(value, NULL, 10) : DEFAULT_IDLE_MS;
}

/* Become the prefix's server, or leave it to the one that is. */
static BOOL become_the_server(HANDLE mutex, HANDLE stopping)
{
    DWORD start = GetTickCount();

    for (;;)
    {
        DWORD r = WaitForSingleObject(mutex, POLL_MS);

        if (r == WAIT_OBJECT_0 || r == WAIT_ABANDONED)
        {
            ResetEvent(stopping);
            return TRUE;
        }
        if (r != WAIT_TIMEOUT) return FALSE;
        /* The holder serves (or is starting to): its clients find it. One
         * that is stopping hands over when it has gone. */
        if (WaitForSingleObject(stopping, 0) == WAIT_OBJECT_0) start = GetTickCount();
        else if (GetTickCount() - start >= EXTRA_LINGER_MS) return FALSE;
    }
}

static HRESULT register_class(DWORD *cookie)
{
    return CoRegisterClassObject(&CLSID_VdsLoader, (IUnknown *)loader_factory(), CLSCTX_LOCAL_SERVER,
                                 REGCLS_MULTIPLEUSE, cookie);
}

/* The interfaces the server's objects are reached through (see the top). */
static const IID *const served_iids[] =
{
    &IID_IUnknown, &IID_IClassFactory, &IID_IVdsServiceLoader, &IID_IVdsService, &IID_IVdsServiceInitialization,
    &IID_IVdsProvider, &IID_IVdsVdProvider, &IID_IEnumVdsObject, &IID_IVdsVDisk, &IID_IVdsOpenVDisk, &IID_IVdsAsync,
};

struct registration_holder
{
    void **lpVtbl;
};

static HRESULT WINAPI holder_QueryInterface(struct registration_holder *iface, REFIID riid, void **out)
{
    size_t i;

    for (i = 0; i < ARRAYSIZE(served_iids); i++)
        if (IsEqualGUID(riid, served_iids[i]))
        {
            *out = iface;
            return S_OK;
        }
    *out = NULL;    /* no IMarshal, IExternalConnection, ...: the standard marshaller */
    return E_NOINTERFACE;
}

static ULONG WINAPI holder_AddRef(struct registration_holder *iface)
{
    (void)iface;
    return 2;
}

static ULONG WINAPI holder_Release(struct registration_holder *iface)
{
    (void)iface;
    return 1;
}

/* Unreachable: the holder's marshals are never unmarshalled, so no call
 * reaches it; one that did would be a bug, said loudly. */
static HRESULT WINAPI holder_method(struct registration_holder *iface)
{
    ERR("a call reached the registration holder %p\n", iface);
    return E_UNEXPECTED;
}

static void hold_registrations(void)
{
    static void *vtbl[64];
    static struct registration_holder holder = { vtbl };
    size_t i;

    vtbl[0] = (void *)holder_QueryInterface;
    vtbl[1] = (void *)holder_AddRef;
    vtbl[2] = (void *)holder_Release;
    for (i = 3; i < ARRAYSIZE(vtbl); i++) vtbl[i] = (void *)holder_method;
    for (i = 0; i < ARRAYSIZE(served_iids); i++)
    {
        IStream *stream;
        HRESULT hr;

        if (FAILED(hr = CreateStreamOnHGlobal(NULL, TRUE, &stream))) return;
        /* The stream, and so the stub, stays until the process ends. */
        if (FAILED(hr = CoMarshalInterface(stream, served_iids[i], (IUnknown *)&holder, MSHCTX_LOCAL, NULL,
                                           MSHLFLAGS_TABLESTRONG)))
        {
            WARN("cannot hold the registration of %s: %#lx\n", debugstr_guid(served_iids[i]), (unsigned long)hr);
            IStream_Release(stream);
        }
    }
}

/* Serve until idle for the grace time, then stop (see the top). */
static void serve(HANDLE stopping, DWORD cookie)
{
    DWORD grace = idle_grace_ms(), idle_since = GetTickCount();
    BOOL served = FALSE;
    HRESULT hr;

    for (;;)
    {
        Sleep(POLL_MS);
        if (provider_refs)
        {
            served = TRUE;
            idle_since = GetTickCount();
            continue;
        }
        if (GetTickCount() - idle_since < (served || grace > FIRST_CLIENT_MS ? grace : FIRST_CLIENT_MS)) continue;
        SetEvent(stopping);
        CoRevokeClassObject(cookie);
        /* A client that had the factory just before makes its object now. */
        Sleep(POLL_MS);
        if (server_try_stop()) return;
        TRACE("an activation came in while stopping: serving on.\n");
        if (FAILED(hr = register_class(&cookie)))
        {
            ERR("cannot register the class object again: %#lx\n", (unsigned long)hr);
            return;
        }
        ResetEvent(stopping);
        idle_since = GetTickCount();
    }
}

int WINAPI wWinMain(HINSTANCE instance, HINSTANCE previous, WCHAR *cmdline, int show)
{
    HANDLE mutex, stopping;
    DWORD cookie;
    HRESULT hr;

    (void)instance;
    (void)previous;
    (void)cmdline;      /* -Embedding, from COM's launch */
    (void)show;
    debug_init();
    if (!(mutex = CreateMutexW(NULL, FALSE, SERVER_MUTEX))
        || !(stopping = CreateEventW(NULL, TRUE, FALSE, SERVER_STOPPING_EVENT)))
        return 1;
    if (!become_the_server(mutex, stopping))
    {
        TRACE("another server serves this prefix.\n");
        return 0;
    }
    if (FAILED(hr = CoInitializeEx(NULL, COINIT_MULTITHREADED))) return 1;
    CoInitializeSecurity(NULL, -1, NULL, NULL, RPC_C_AUTHN_LEVEL_DEFAULT, RPC_C_IMP_LEVEL_IDENTIFY, NULL,
                         EOAC_NONE, NULL);
    if (FAILED(hr = register_class(&cookie)))
    {
        ERR("cannot register the class object: %#lx\n", (unsigned long)hr);
        CoUninitialize();
        return 1;
    }
    hold_registrations();
    TRACE("serving, process %lu.\n", (unsigned long)GetCurrentProcessId());
    serve(stopping, cookie);
    TRACE("idle: stopping.\n");
    CoUninitialize();
    ReleaseMutex(mutex);
    CloseHandle(mutex);
    CloseHandle(stopping);
    return 0;
}
