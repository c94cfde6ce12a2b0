/*
 * IVdsAsync (vds-reference.md §5.2): a job on a thread-pool worker. Wait
 * blocks on an event; QueryStatus never blocks; Cancel asks the job to stop
 * and waits until it has (the image is valid when it returns). The worker
 * holds its own reference, so clients may release theirs mid-run.
 *
 * Answers, with their sources (MS-VDS = [MS-VDS], SDK = MicrosoftDocs/sdk-api):
 *   Wait on a failed task        *pHrResult = the failure, VDS_ASYNC_OUTPUT all
 *                                zeros: its interface pointers are NULL (SDK
 *                                nf-vds-ivdsopenvdisk-compact.md and
 *                                nf-vds-ivdsvdprovider-createvdisk.md; MS-VDS
 *                                §3.4.5.2.2.2 lets it be left as is, which
 *                                zeros also satisfy) [V]
 *   Cancel of a running job      S_OK; the task ends with VDS_E_OPERATION_CANCELED,
 *                                percent 0 (MS-VDS §3.4.5.2.2.1) [V]
 *   Cancel, the job ends first   VDS_E_CANCEL_TOO_LATE, signal state as is (ibid.) [V]
 *   Cancel after completion      VDS_E_CANCEL_TOO_LATE (ibid.: "unable to cancel") [V]
 *   Cancel of a cancelled task   VDS_E_OPERATION_CANCELED ("already been canceled",
 *                                SDK nf-vds-ivdsasync-cancel.md) [V]
 *   Cancel of a job that cannot  VDS_E_NOT_SUPPORTED at once, the job untouched
 *   be cancelled (attach, create) (MS-VDS §3.4.5.2.2.1 allows it or TOO_LATE; NOT_SUPPORTED
 *                                says the truth without blocking) [U]
 */
#include <stdlib.h>

#include "provider_private.h"
#include "test_hooks.h"

struct async
{
    IVdsAsync IVdsAsync_iface;
    LONG refcount;
    CRITICAL_SECTION cs;
    HANDLE done;                /* manual reset: the signal state, never reset */
    HANDLE cancel_event;        /* manual reset: set once Cancel asked */
    VDS_ASYNC_OUTPUT_TYPE type;
    struct async_job *job;
    struct client_link link;
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
        CloseHandle(a->cancel_event);
        named_cs_delete(&a->cs);
        client_untrack(&a->link);
        free(a);
        provider_unref();
    }
    return ref;
}

/* The answer to Cancel once the task has ended: did a Cancel end it? */
static HRESULT cancel_answer_after_end(HRESULT result, BOOL first)
{
    if (result != VDS_E_OPERATION_CANCELED) return VDS_E_CANCEL_TOO_LATE;
    return first ? S_OK : VDS_E_OPERATION_CANCELED;
}

static HRESULT WINAPI async_Cancel(IVdsAsync *iface)
{
    struct async *a = impl_from_IVdsAsync(iface);
    HRESULT result;
    BOOL first;

    TRACE("iface %p.\n", iface);
    EnterCriticalSection(&a->cs);
    if (a->signalled)
    {
        result = a->result;
        LeaveCriticalSection(&a->cs);
        return cancel_answer_after_end(result, FALSE);
    }
    if (!a->job->cancellable)
    {
        LeaveCriticalSection(&a->cs);
        return VDS_E_NOT_SUPPORTED;
    }
    /* Only the Cancel that asked first can be the one that cancelled. */
    first = !InterlockedExchange(&a->cancel, 1);
    SetEvent(a->cancel_event);
    LeaveCriticalSection(&a->cs);
    /* The engine stops at its next progress report with a valid image. */
    WaitForSingleObject(a->done, INFINITE);
    EnterCriticalSection(&a->cs);
    result = a->result;
    LeaveCriticalSection(&a->cs);
    return cancel_answer_after_end(result, first);
}

static HRESULT WINAPI async_Wait(IVdsAsync *iface, HRESULT *hr, VDS_ASYNC_OUTPUT *output)
{
    struct async *a = impl_from_IVdsAsync(iface);

    TRACE("iface %p, hr %p, output %p.\n", iface, hr, output);
    if (!hr || !output) return E_POINTER;
    WaitForSingleObject(a->done, INFINITE);
    EnterCriticalSection(&a->cs);
    *hr = a->result;
    /* Zeros on failure: no interface pointer a caller could release. */
    memset(output, 0, sizeof(*output));
    if (SUCCEEDED(a->result))
    {
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
    test_hold_job(a->cancel_event);
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

HRESULT async_create(struct client *client, VDS_ASYNC_OUTPUT_TYPE type, struct async_job *job, IVdsAsync **out)
{
    struct async *a;
    HRESULT hr;

    *out = NULL;
    if (!(a = calloc(1, sizeof(*a)))) return E_OUTOFMEMORY;
    if (!(a->done = CreateEventW(NULL, TRUE, FALSE, NULL)) || !(a->cancel_event = CreateEventW(NULL, TRUE, FALSE, NULL)))
    {
        hr = HRESULT_FROM_WIN32(GetLastError());
        if (a->done) CloseHandle(a->done);
        free(a);
        return hr;
    }
    a->IVdsAsync_iface.lpVtbl = &async_vtbl;
    a->refcount = 2;            /* the caller's and the worker's */
    a->type = type;
    a->job = job;
    named_cs_init(&a->cs, __FILE__ ": async.cs");
    client_track(client, &a->link, (IUnknown *)&a->IVdsAsync_iface, &a->refcount, NULL);
    provider_ref();
    if (!TrySubmitThreadpoolCallback(async_worker, a, NULL))
    {
        hr = HRESULT_FROM_WIN32(GetLastError());
        a->job = NULL;          /* the caller keeps its job on failure */
        a->refcount = 1;
        IVdsAsync_Release(&a->IVdsAsync_iface);
        return hr;
    }
    *out = &a->IVdsAsync_iface;
    return S_OK;
}

/* A job whose result is known when it is made: the method's error travels
 * through pHrResult, as MS-VDS §3.4.5.2.41.4-6 has for what the OS decides. */
struct failed_job
{
    struct async_job job;
    HRESULT hr;
};

static HRESULT failed_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    (void)progress;
    (void)ctx;
    return CONTAINING_RECORD(job, struct failed_job, job)->hr;
}

static void failed_destroy(struct async_job *job)
{
    free(CONTAINING_RECORD(job, struct failed_job, job));
}

HRESULT async_create_failed(struct client *client, VDS_ASYNC_OUTPUT_TYPE type, HRESULT result, IVdsAsync **out)
{
    struct failed_job *job;
    HRESULT hr;

    *out = NULL;
    if (!(job = calloc(1, sizeof(*job)))) return E_OUTOFMEMORY;
    job->job.run = failed_run;
    job->job.destroy = failed_destroy;
    job->hr = result;
    if (FAILED(hr = async_create(client, type, &job->job, out))) free(job);
    return hr;
}
