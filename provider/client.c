/*
 * Clients of the shared service, and what each holds.
 *
 * One server process serves every client of the prefix (server.c), and
 * Wine's DCOM never runs down the objects of a client that ends without
 * releasing them: its stubs keep them, and with them the files they hold,
 * until wineserver goes. So the service keeps its own books. Every COM
 * object it hands out belongs to exactly one client, the process whose
 * call made it (or the process itself, in-process), and is tracked here;
 * objects shared by clients (the provider, the VDisks) are shared state
 * behind per-client COM objects (vd_provider.c, vdisk.c). When a client's
 * process ends, a wait on its process handle fires and every object that
 * client still holds is disconnected (CoDisconnectObject): the stubs drop
 * their references and the objects go, closing their files, as DCOM's
 * rundown does on Windows. What outlives a handle on Windows outlives it
 * here too: an attachment (vd_provider.c) and a running job (async.c
 * holds its own reference until the job ends).
 *
 * The caller's process id comes from the RPC call in progress
 * (I_RpcBindingInqLocalClientPID with no binding: the current call), which
 * Wine 8 implements for its local transport [V: checked with a
 * LocalServer32 probe, two clients, two ids]. Outside a call (in-process
 * use) the client is this process, which never dies before its objects.
 */
#include <stdlib.h>

#include "provider_private.h"
#include <rpc.h>

struct client
{
    LONG refcount;              /* the registry's, while alive, and one per tracked object */
    DWORD pid;
    HANDLE process;             /* NULL for this process */
    HANDLE wait;
    BOOL dead;
    struct client_link objects; /* list head */
    struct client *next;        /* registry of live clients */
};

static CRITICAL_SECTION clients_cs;
static CRITICAL_SECTION_DEBUG clients_cs_debug =
{
    0, 0, &clients_cs,
    { &clients_cs_debug.ProcessLocksList, &clients_cs_debug.ProcessLocksList },
    0, 0, 0, 0, 0
};
static CRITICAL_SECTION clients_cs = { &clients_cs_debug, -1, 0, 0, 0, 0 };
static struct client *clients;

static void list_init(struct client_link *head)
{
    head->next = head->prev = head;
}

static void client_free(struct client *c)
{
    struct client **p;

    EnterCriticalSection(&clients_cs);
    for (p = &clients; *p; p = &(*p)->next)
        if (*p == c)
        {
            *p = c->next;
            break;
        }
    LeaveCriticalSection(&clients_cs);
    if (c->process) CloseHandle(c->process);
    free(c);
}

static void client_unref(struct client *c)
{
    if (!InterlockedDecrement(&c->refcount)) client_free(c);
}

/* AddRef an object unless its count already reached 0 (it is in its
 * Release, waiting for the lock to untrack itself). */
static BOOL addref_if_alive(LONG *refcount)
{
    LONG r = *refcount, prev;

    while (r > 0)
    {
        if ((prev = InterlockedCompareExchange(refcount, r + 1, r)) == r) return TRUE;
        r = prev;
    }
    return FALSE;
}

/* The wait on a client's process fired: disconnect all it still holds. */
static void CALLBACK client_ended(void *ctx, BOOLEAN timed_out)
{
    struct client *c = ctx;
    struct client_link *l;
    IUnknown **held = NULL;
    ULONG n = 0, cap = 0, i;
    HRESULT init;

    (void)timed_out;
    /* CoDisconnectObject works in the objects' apartment: the MTA. */
    init = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    EnterCriticalSection(&clients_cs);
    c->dead = TRUE;
    for (l = c->objects.next; l != &c->objects; l = l->next)
    {
        if (n == cap)
        {
            IUnknown **more = realloc(held, (cap = cap ? cap * 2 : 16) * sizeof(*held));
            if (!more) break;
            held = more;
        }
        if (addref_if_alive(l->refcount)) held[n++] = l->object;
    }
    LeaveCriticalSection(&clients_cs);
    WARN("client %lu ended holding %lu objects: releasing them.\n", (unsigned long)c->pid, (unsigned long)n);
    for (i = 0; i < n; i++)
    {
        CoDisconnectObject(held[i], 0);
        IUnknown_Release(held[i]);
    }
    free(held);
    if (SUCCEEDED(init)) CoUninitialize();
    UnregisterWait(c->wait);    /* from its own callback: does not wait */
    client_unref(c);            /* the registry's reference */
}

/* The live record of pid, made if there is none; NULL with *hr set. */
static struct client *client_for_pid(DWORD pid, HRESULT *hr)
{
    struct client *c;

    EnterCriticalSection(&clients_cs);
    for (c = clients; c; c = c->next)
        if (c->pid == pid && !c->dead)
        {
            InterlockedIncrement(&c->refcount);
            LeaveCriticalSection(&clients_cs);
            return c;
        }
    if (!(c = calloc(1, sizeof(*c))))
    {
        LeaveCriticalSection(&clients_cs);
        *hr = E_OUTOFMEMORY;
        return NULL;
    }
    c->pid = pid;
    c->refcount = 2;            /* the registry's and the caller's */
    list_init(&c->objects);
    if (pid != GetCurrentProcessId())
    {
        /* A client that is already gone gets nothing: nobody could free it. */
        if (!(c->process = OpenProcess(SYNCHRONIZE, FALSE, pid))
            || !RegisterWaitForSingleObject(&c->wait, c->process, client_ended, c, INFINITE,
                                            WT_EXECUTEONLYONCE | WT_EXECUTELONGFUNCTION))
        {
            *hr = HRESULT_FROM_WIN32(GetLastError());
            LeaveCriticalSection(&clients_cs);
            if (c->process) CloseHandle(c->process);
            free(c);
            return NULL;
        }
    }
    c->next = clients;
    clients = c;
    LeaveCriticalSection(&clients_cs);
    TRACE("new client %lu.\n", (unsigned long)pid);
    return c;
}

HRESULT client_of_caller(struct client **out)
{
    ULONG pid = 0;
    HRESULT hr = S_OK;

    /* No call in progress (in-process use): this process is the client. */
    if (I_RpcBindingInqLocalClientPID(NULL, &pid) != RPC_S_OK || !pid) pid = GetCurrentProcessId();
    *out = client_for_pid(pid, &hr);
    return hr;
}

void client_release(struct client *c)
{
    client_unref(c);
}

DWORD client_pid(const struct client *c)
{
    return c->pid;
}

void client_track(struct client *c, struct client_link *link, IUnknown *object, LONG *refcount, const void *key)
{
    link->client = c;
    link->object = object;
    link->refcount = refcount;
    link->key = key;
    InterlockedIncrement(&c->refcount);
    EnterCriticalSection(&clients_cs);
    link->prev = c->objects.prev;
    link->next = &c->objects;
    c->objects.prev->next = link;
    c->objects.prev = link;
    LeaveCriticalSection(&clients_cs);
}

void client_untrack(struct client_link *link)
{
    struct client *c = link->client;

    EnterCriticalSection(&clients_cs);
    link->prev->next = link->next;
    link->next->prev = link->prev;
    LeaveCriticalSection(&clients_cs);
    client_unref(c);
}

IUnknown *client_lookup(struct client *c, const void *key)
{
    struct client_link *l;
    IUnknown *found = NULL;

    EnterCriticalSection(&clients_cs);
    for (l = c->objects.next; l != &c->objects && !found; l = l->next)
        if (l->key == key && addref_if_alive(l->refcount)) found = l->object;
    LeaveCriticalSection(&clients_cs);
    return found;
}

ULONG client_count(void)
{
    struct client *c;
    ULONG n = 0;

    EnterCriticalSection(&clients_cs);
    for (c = clients; c; c = c->next) n++;
    LeaveCriticalSection(&clients_cs);
    return n;
}
