/* Why the last open of this thread failed (vdsshim_io.h), for every backend:
 * thread-local, so the DLL's workers never see each other's failures. */
#include "io_platform.h"

_Thread_local const char *io_open_reason;
_Thread_local uint32_t io_open_error;

const char *vdsshim_io_open_reason(void)
{
    return io_open_reason;
}

uint32_t vdsshim_io_open_error(void)
{
    return io_open_error;
}
