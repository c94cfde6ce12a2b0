/*
 * LVM2's metadata text (the "Text Format Volume Group" an MDA holds):
 * sections "name { ... }" and assignments "key = value", where a value is an
 * integer, a quoted string or a [list] of them; '#' starts a comment. Read
 * into a tree whose strings point into the (unescaped, in place) text.
 */
#ifndef VDSSHIM_LVM_TEXT_H
#define VDSSHIM_LVM_TEXT_H

#include <stddef.h>
#include <stdint.h>

enum lvm_kind { LVM_SECTION, LVM_INT, LVM_STRING, LVM_LIST };

struct lvm_node
{
    enum lvm_kind kind;
    const char *key;                /* NULL for a list element */
    const char *str;                /* LVM_STRING */
    int64_t num;                    /* LVM_INT */
    struct lvm_node *child;         /* LVM_SECTION, LVM_LIST: first member */
    struct lvm_node *next;          /* next member of the same parent */
    struct lvm_node *allocated;     /* every node of the tree, for freeing */
};

struct lvm_tree
{
    struct lvm_node *root;          /* a section holding the top level */
    struct lvm_node *allocated;
    size_t n;
};

/* Parse text (NUL-terminated, modified in place). 0, or -1 with *err set to
 * what was wrong and where. The tree's strings live in text. */
int lvm_text_parse(char *text, struct lvm_tree *tree, const char **err);
void lvm_text_free(struct lvm_tree *tree);

/* The member of section called key, of that kind; NULL if absent. */
const struct lvm_node *lvm_get(const struct lvm_node *section, const char *key, enum lvm_kind kind);
/* Does the list key of section hold the string s? */
int lvm_list_has(const struct lvm_node *section, const char *key, const char *s);

#endif /* VDSSHIM_LVM_TEXT_H */
