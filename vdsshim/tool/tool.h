/* Shared by the vdsshim command-line tool's source files. */
#ifndef VDSSHIM_TOOL_H
#define VDSSHIM_TOOL_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "vdsshim.h"

/* Exit codes: part of the interface, listed in --help and README. */
enum exit_code
{
    EXIT_OK = 0,
    EXIT_USAGE = 2,
    EXIT_BAD_IMAGE = 3,     /* corrupt, unsupported, or a broken parent chain */
    EXIT_IO = 4,            /* cannot read/write/open the file, out of space or memory */
    EXIT_IN_USE = 5,
    EXIT_CANCELLED = 6,
    EXIT_WRONG_TYPE = 7,    /* the operation does not apply to this disk type */
};

extern volatile sig_atomic_t interrupted;
int exit_code_from_status(int st);
/* Print "vdsshim: PATH: reason" and return the exit code for st. */
int fail(const char *path, int st, const struct vdsshim_diag *diag);
void json_string(FILE *f, const char *s);

/* A progress bar on stderr when shown; asks the engine to stop after Ctrl-C. */
struct bar
{
    int shown;
    unsigned last;
    const char *label;
};
int on_progress(void *ctx, unsigned pct);
/* Around a long operation: the bar labelled and shown (not for --json or
 * --quiet, only on a terminal), SIGINT, SIGTERM and SIGHUP caught to cancel
 * it (bar_begin); the signals released, the bar's line ended (bar_end). */
void bar_begin(struct bar *bar, const char *label, int json, int quiet);
void bar_end(struct bar *bar);

/* Read-write open; under VDSSHIM_FAULT_CUT_AFTER_WRITE through the fault injector. */
int open_for_write(const char *path, struct vdsshim_image **img, struct vdsshim_diag *diag);

/* "12G", "512M", "4096": bytes (K/M/G/T are powers of 1024). 0 on a bad string. */
uint64_t parse_size(const char *s);
/* Whether s ends with suffix (lower case), ignoring the case of s. */
int ends_with(const char *s, const char *suffix);

/* create, merge, expand (cmd_image.c). */
struct create_args
{
    const char *format;         /* "vhd", "vhdx" or NULL: from the file name */
    int fixed;
    const char *size, *block_size, *sector_size, *parent;
};
int cmd_create(const char *path, const struct create_args *a, int json, int quiet);
int cmd_merge(const char *path, unsigned depth, int json, int quiet);
int cmd_expand(const char *path, const char *new_size, int json, int quiet);
int cmd_shrink(const char *path, const char *new_size, int json, int quiet);
int cmd_set_parent(const char *path, const char *parent, int json, int quiet);
/* convert (cmd_convert.c): the create options but --parent. */
int cmd_convert(const char *src, const char *dst, const struct create_args *a, int json, int quiet);

#endif /* VDSSHIM_TOOL_H */
