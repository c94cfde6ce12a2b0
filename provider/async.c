/*
 * IVdsAsync (vds-reference.md §5.2): a job on a thread-pool worker. Wait
 * blocks on an event; QueryStatus never blocks; Cancel asks the job to stop
 * and waits until it has (the image is valid when it returns). The worker
 * holds its own reference, so clients may release theirs mid-run.
 */
#include <stdlib.h>

#include "provider_private.h"

struct async
{
    IVdsAsync IVdsAsync_iface;
    LONG refcount;
    CRITICAL_SECTION cs;
    HANDLE done;                /* manual reset: the signal state, never reset */
    VDS_ASYNC_OUTPUT_TYPE type;
    struct async_job *job;
    HRESULT result;
    ULONG percent;              /* only ever grows while running */
    BOOL signalled;
    volatile LONG cancel;
};

static struct async *impl_from_IVdsAsync(IVdsAsync *iface)
{
    return CONTAINING_RECORD(iface, struct async, IVdsAsync_iface);
}

static HRESULT WINAPI async_QueryInterface(IVdsAsync *iface, REFIID riid, void **out)
{
    TRACE("iface %p, riid %s, out %p.\n", iface, debugstr_guid(riid), out);
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IVdsAsync))
    {
        *out = iface;
        IVdsAsync_AddRef(iface);
        return S_OK;
    }
    WARN("no interface %s.\n", debugstr_guid(riid));
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI async_AddRef(IVdsAsync *iface)
{
    return InterlockedIncrement(&impl_from_IVdsAsync(iface)->refcount);
}

static ULONG WINAPI async_Release(IVdsAsync *iface)
{
    struct async *a = impl_from_IVdsAsync(iface);
    ULONG ref = InterlockedDecrement(&a->refcount);

    if (!ref)
    {
        if (a->job) a->job->destroy(a->job);
        CloseHandle(a->done);
        DeleteCriticalSection(&a->cs);
        free(a);
        provider_unref();
    }
    return ref;
}

static HRESULT WINAPI async_Cancel(IVdsAsync *iface)
{
    struct async *a = impl_from_IVdsAsync(iface);
    HRESULT result;

    TRACE("iface %p.\n", iface);
    EnterCriticalSection(&a->cs);
    if (a->signalled)
    {
        LeaveCriticalSection(&a->cs);
        return VDS_E_CANCEL_TOO_LATE;   /* [U] §5.2: finished, nothing to cancel */
    }
    InterlockedExchange(&a->cancel, 1);
    LeaveCriticalSection(&a->cs);
    /* The engine stops at its next progress report with a valid image. */
    WaitForSingleObject(a->done, INFINITE);
    EnterCriticalSection(&a->cs);
    result = a->result;
    LeaveCriticalSection(&a->cs);
    return result == VDS_E_OPERATION_CANCELED ? S_OK : VDS_E_CANCEL_TOO_LATE;
}

static HRESULT WINAPI async_Wait(IVdsAsync *iface, HRESULT *hr, VDS_ASYNC_OUTPUT *output)
{
    struct async *a = impl_from_IVdsAsync(iface);

    TRACE("iface %p, hr %p, output %p.\n", iface, hr, output);
    if (!hr || !output) return E_POINTER;
    WaitForSingleObject(a->done, INFINITE);
    EnterCriticalSection(&a->cs);
    *hr = a->result;
    /* Filled on success only; CreateVDisk (200) hands out its new VDisk. */
    if (SUCCEEDED(a->result))
    {
        memset(output, 0, sizeof(*output));
        output->type = a->type;
        if (a->job && a->job->output) a->job->output(a->job, output);
    }
    LeaveCriticalSection(&a->cs);
    return S_OK;
}

static HRESULT WINAPI async_QueryStatus(IVdsAsync *iface, HRESULT *hr, ULONG *percent)
{
    struct async *a = impl_from_IVdsAsync(iface);

    TRACE("iface %p, hr %p, percent %p.\n", iface, hr, percent);
    if (!hr || !percent) return E_POINTER;
    EnterCriticalSection(&a->cs);
    *hr = a->signalled ? a->result : VDS_E_OPERATION_PENDING;   /* 0x80042409: the header value [V/U §4.1] */
    *percent = a->percent;
    LeaveCriticalSection(&a->cs);
    return S_OK;
}

static const IVdsAsyncVtbl async_vtbl =
{
    /* IUnknown methods */
    async_QueryInterface,
    async_AddRef,
    async_Release,
    /* IVdsAsync methods */
    async_Cancel,
    async_Wait,
    async_QueryStatus,
};

static int async_progress(void *ctx, unsigned pct)
{
    struct async *a = ctx;

    EnterCriticalSection(&a->cs);
    if (pct > 99) pct = 99;                 /* 100 means done, which only the end says */
    if (pct > a->percent) a->percent = pct;
    LeaveCriticalSection(&a->cs);
    return a->cancel != 0;
}

static void CALLBACK async_worker(PTP_CALLBACK_INSTANCE instance, void *ctx)
{
    struct async *a = ctx;
    HRESULT hr;

    (void)instance;
    hr = a->job->run(a->job, async_progress, a);
    if (a->job->finish) a->job->finish(a->job);
    EnterCriticalSection(&a->cs);
    a->result = hr;
    a->percent = SUCCEEDED(hr) ? 100 : 0;
    a->signalled = TRUE;
    SetEvent(a->done);
    LeaveCriticalSection(&a->cs);
    IVdsAsync_Release(&a->IVdsAsync_iface);     /* the worker's reference */
}

HRESULT async_create(VDS_ASYNC_OUTPUT_TYPE type, struct async_job *job, IVdsAsync **out)
{
    struct async *a;

    *out = NULL;
    if (!(a = calloc(1, sizeof(*a)))) return E_OUTOFMEMORY;
    if (!(a->done = CreateEventW(NULL, TRUE, FALSE, NULL)))
    {
        free(a);
        return HRESULT_FROM_WIN32(GetLastError());
    }
    a->IVdsAsync_iface.lpVtbl = &async_vtbl;
    a->refcount = 2;            /* the caller's and the worker's */
    a->type = type;
    a->job = job;
    InitializeCriticalSection(&a->cs);
    provider_ref();
    if (!TrySubmitThreadpoolCallback(async_worker, a, NULL))
    {
        HRESULT hr = HRESULT_FROM_WIN32(GetLastError());
        a->job = NULL;          /* the caller keeps its job on failure */
        a->refcount = 1;
        IVdsAsync_Release(&a->IVdsAsync_iface);
        return hr;
    }
    *out = &a->IVdsAsync_iface;
    return S_OK;
}
