/* Force-included into widl's proxy code: mingw-w64 10's unknwnbase.h declares
 * these rpcrt4 exports only for C++, but the generated C proxy vtables name
 * them (toolchain.md, trap 1). */
#include <objbase.h>
HRESULT STDMETHODCALLTYPE IUnknown_QueryInterface_Proxy(IUnknown *This, REFIID riid, void **ppvObject);
ULONG STDMETHODCALLTYPE IUnknown_AddRef_Proxy(IUnknown *This);
ULONG STDMETHODCALLTYPE IUnknown_Release_Proxy(IUnknown *This);
