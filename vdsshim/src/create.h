/* Creation and conversion (create.c, convert.c): the parameters with defaults applied, each format's writer, and the copy. Not installed. */
#ifndef VDSSHIM_CREATE_H
#define VDSSHIM_CREATE_H

#include "image.h"
#include "progress.h"

/* What vdsshim_create works from: the caller's parameters with defaults
 * applied, and what the parent dictates for a child. */
struct create_spec
{
    struct vdsshim_create_params p;     /* sizes final; parent_path as given */
    uint8_t unique_id[16];              /* VHD unique id / VHDX virtual disk id */
    /* Differencing only. */
    const struct vdsshim_image *parent;
    char *parent_absolute;              /* UTF-8, this platform's absolute form */
    char *parent_relative;              /* UTF-8, Windows form from the child's directory: .\name */
};

int vhd_create(struct vdsshim_io *io, const struct create_spec *s, struct vdsshim_diag *diag);
int vhdx_create(struct vdsshim_io *io, const struct create_spec *s, struct vdsshim_diag *diag);

/* The copy at the heart of a conversion (convert.c): what src's guest reads,
 * written into dst (a new, empty image opened for writing, of the same
 * virtual size or larger), durable when it returns VDSSHIM_OK. */
int convert_copy(struct vdsshim_image *src, struct vdsshim_image *dst, struct progress *progress,
                 struct vdsshim_diag *diag);

#endif /* VDSSHIM_CREATE_H */
