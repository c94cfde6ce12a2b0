/* The virtdisk suite's fixtures (virtdisk_fixtures.c). */
#ifndef VDSSHIM_TEST_VIRTDISK_FIXTURES_H
#define VDSSHIM_TEST_VIRTDISK_FIXTURES_H

#include <windows.h>

/* Makes fixture_dir\name afresh (and name.raw, what its guest reads);
 * FALSE, with a "not ok" line, when it cannot. */
BOOL fixture(const WCHAR *name);

#endif
