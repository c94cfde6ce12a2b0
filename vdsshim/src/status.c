/* Status names and messages, generated from VDSSHIM_STATUS_MAP. */
#include "vdsshim.h"

const char *vdsshim_status_name(int status)
{
    switch (status)
    {
#define STATUS_NAME(name, msg) case VDSSHIM_##name: return #name;
    VDSSHIM_STATUS_MAP(STATUS_NAME)
#undef STATUS_NAME
    default: return "UNKNOWN";
    }
}

const char *vdsshim_strerror(int status)
{
    switch (status)
    {
#define STATUS_MSG(name, msg) case VDSSHIM_##name: return msg;
    VDSSHIM_STATUS_MAP(STATUS_MSG)
#undef STATUS_MSG
    default: return "unknown status";
    }
}
