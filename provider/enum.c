/* IEnumVdsObject over a snapshot of objects. */
#include <stdlib.h>

#include "provider_private.h"

struct enum_objects
{
    IEnumVdsObject IEnumVdsObject_iface;
    LONG refcount;
    CRITICAL_SECTION cs;
    IUnknown **objects;
    struct client_link link;
    ULONG count;
    ULONG position;
};

static struct enum_objects *impl_from_IEnumVdsObject(IEnumVdsObject *iface)
{
    return CONTAINING_RECORD(iface, struct enum_objects, IEnumVdsObject_iface);
}

static HRESULT WINAPI enum_QueryInterface(IEnumVdsObject *iface, REFIID riid, void **out)
{
    TRACE("iface %p, riid %s, out %p.\n", iface, debugstr_guid(riid), out);
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IEnumVdsObject))
    {
        *out = iface;
        IEnumVdsObject_AddRef(iface);
        return S_OK;
    }
    WARN("no interface %s.\n", debugstr_guid(riid));
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI enum_AddRef(IEnumVdsObject *iface)
{
    return InterlockedIncrement(&impl_from_IEnumVdsObject(iface)->refcount);
}

static ULONG WINAPI enum_Release(IEnumVdsObject *iface)
{
    struct enum_objects *e = impl_from_IEnumVdsObject(iface);
    ULONG ref = InterlockedDecrement(&e->refcount), i;

    if (!ref)
    {
        for (i = 0; i < e->count; i++) IUnknown_Release(e->objects[i]);
        free(e->objects);
        DeleteCriticalSection(&e->cs);
        client_untrack(&e->link);
        free(e);
        provider_unref();
    }
    return ref;
}

static HRESULT WINAPI enum_Next(IEnumVdsObject *iface, ULONG celt, IUnknown **objects, ULONG *fetched)
{
    struct enum_objects *e = impl_from_IEnumVdsObject(iface);
    ULONG n = 0;

    TRACE("iface %p, celt %lu, objects %p, fetched %p.\n", iface, celt, objects, fetched);
    if (!objects || !fetched) return E_POINTER;
    EnterCriticalSection(&e->cs);
    while (n < celt && e->position < e->count)
    {
        objects[n] = e->objects[e->position++];
        IUnknown_AddRef(objects[n]);
        n++;
    }
    LeaveCriticalSection(&e->cs);
    *fetched = n;
    return n == celt ? S_OK : S_FALSE;
}

static HRESULT WINAPI enum_Skip(IEnumVdsObject *iface, ULONG celt)
{
    struct enum_objects *e = impl_from_IEnumVdsObject(iface);
    HRESULT hr = S_OK;

    TRACE("iface %p, celt %lu.\n", iface, celt);
    EnterCriticalSection(&e->cs);
    if (celt > e->count - e->position)
    {
        e->position = e->count;
        hr = S_FALSE;
    }
    else
        e->position += celt;
    LeaveCriticalSection(&e->cs);
    return hr;
}

static HRESULT WINAPI enum_Reset(IEnumVdsObject *iface)
{
    struct enum_objects *e = impl_from_IEnumVdsObject(iface);

    TRACE("iface %p.\n", iface);
    EnterCriticalSection(&e->cs);
    e->position = 0;
    LeaveCriticalSection(&e->cs);
    return S_OK;
}

static HRESULT WINAPI enum_Clone(IEnumVdsObject *iface, IEnumVdsObject **out)
{
    struct enum_objects *e = impl_from_IEnumVdsObject(iface);
    HRESULT hr;

    TRACE("iface %p, out %p.\n", iface, out);
    if (!out) return E_POINTER;
    EnterCriticalSection(&e->cs);
    if (SUCCEEDED(hr = enum_create(e->link.client, e->objects, e->count, out)))
        impl_from_IEnumVdsObject(*out)->position = e->position;
    LeaveCriticalSection(&e->cs);
    return hr;
}

static const IEnumVdsObjectVtbl enum_vtbl =
{
    /* IUnknown methods */
    enum_QueryInterface,
    enum_AddRef,
    enum_Release,
    /* IEnumVdsObject methods */
    enum_Next,
    enum_Skip,
    enum_Reset,
    enum_Clone,
};

HRESULT enum_create(struct client *client, IUnknown **objects, ULONG count, IEnumVdsObject **out)
{
    struct enum_objects *e;
    ULONG i;

    *out = NULL;
    if (!(e = calloc(1, sizeof(*e))) || !(e->objects = calloc(count ? count : 1, sizeof(*e->objects))))
    {
        free(e);
        return E_OUTOFMEMORY;
    }
    e->IEnumVdsObject_iface.lpVtbl = &enum_vtbl;
    e->refcount = 1;
    e->count = count;
    for (i = 0; i < count; i++)
    {
        e->objects[i] = objects[i];
        IUnknown_AddRef(objects[i]);
    }
    InitializeCriticalSection(&e->cs);
    client_track(client, &e->link, (IUnknown *)&e->IEnumVdsObject_iface, &e->refcount, NULL);
    provider_ref();
    *out = &e->IEnumVdsObject_iface;
    return S_OK;
}
