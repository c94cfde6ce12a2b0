#include "fsmap.h"
int fs_xfs_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{ (void)vol; (void)map; (void)r; return VDSSHIM_E_UNKNOWN_FORMAT; }
