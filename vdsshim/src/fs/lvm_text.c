/*
 * A reader for LVM2's metadata text, written from its grammar as LVM2's
 * lib/config and every "vgcfgbackup" file show it: identifiers, '=', '{',
 * '}', '[', ']', ',', integers, "strings" with \" and \\ escapes, comments.
 * Bounded everywhere (nesting, node count), since the text comes from a
 * guest disk.
 */
#include <stdlib.h>
#include <string.h>

#include "lvm_text.h"

#define MAX_DEPTH 16
#define MAX_NODES (1u << 20)

struct parser
{
    char *p;
    struct lvm_tree *tree;
    const char *err;
};

static void skip_space(struct parser *ps)
{
    for (;;)
    {
        while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
        if (*ps->p != '#') return;
        while (*ps->p && *ps->p != '\n') ps->p++;
    }
}

static int is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'
        || c == '+' || c == '-' || c == '/';
}

static struct lvm_node *new_node(struct parser *ps, enum lvm_kind kind, const char *key)
{
    struct lvm_node *n;

    if (ps->tree->n >= MAX_NODES || !(n = calloc(1, sizeof(*n))))
    {
        ps->err = "too many metadata nodes";
        return NULL;
    }
    n->kind = kind;
    n->key = key;
    n->allocated = ps->tree->allocated;
    ps->tree->allocated = n;
    ps->tree->n++;
    return n;
}

/* An identifier; the caller NUL-terminates it once it has read the byte after it. */
static char *ident(struct parser *ps)
{
    char *start = ps->p;

    while (is_ident(*ps->p)) ps->p++;
    return ps->p == start ? NULL : start;
}

/* A quoted string, unescaped in place. */
static const char *string(struct parser *ps)
{
    char *out = ++ps->p, *start = out;

    while (*ps->p != '"')
    {
        if (!*ps->p)
        {
            ps->err = "a string runs to the end of the text";
            return NULL;
        }
        if (*ps->p == '\\' && ps->p[1]) ps->p++;
        *out++ = *ps->p++;
    }
    ps->p++;
    *out = 0;
    return start;
}

static struct lvm_node *scalar(struct parser *ps, const char *key)
{
    struct lvm_node *n;
    char *end;

    if (*ps->p == '"')
    {
        const char *s = string(ps);
        if (!s || !(n = new_node(ps, LVM_STRING, key))) return NULL;
        n->str = s;
        return n;
    }
    if ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '-')
    {
        long long v = strtoll(ps->p, &end, 10);
        /* Floats appear in informational keys only; their integer part will do. */
        if (*end == '.')
            while ((*++end >= '0' && *end <= '9')) {}
        if (end == ps->p || !(n = new_node(ps, LVM_INT, key))) return NULL;
        ps->p = end;
        n->num = v;
        return n;
    }
    ps->err = "a value is neither a number, a string nor a list";
    return NULL;
}

static struct lvm_node *value(struct parser *ps, const char *key)
{
    struct lvm_node *list, **tail;

    if (*ps->p != '[') return scalar(ps, key);
    ps->p++;
    if (!(list = new_node(ps, LVM_LIST, key))) return NULL;
    tail = &list->child;
    for (skip_space(ps); *ps->p != ']'; skip_space(ps))
    {
        if (!(*tail = scalar(ps, NULL))) return NULL;
        tail = &(*tail)->next;
        skip_space(ps);
        if (*ps->p == ',') ps->p++;
        else if (*ps->p != ']')
        {
            ps->err = "a list's elements are not separated by commas";
            return NULL;
        }
    }
    ps->p++;
    return list;
}

/* The members of a section up to its '}' (or the end of the text at depth 0). */
static int members(struct parser *ps, struct lvm_node *section, unsigned depth)
{
    struct lvm_node **tail = &section->child;

    if (depth > MAX_DEPTH)
    {
        ps->err = "sections nest too deeply";
        return -1;
    }
    for (;;)
    {
        char *key;
        char sep;

        skip_space(ps);
        if (!*ps->p || *ps->p == '}')
        {
            int at_end = !*ps->p;
            if (at_end == !depth) break;        /* the text ends the top level, '}' a section */
            ps->err = depth ? "a section is not closed" : "a '}' closes no section";
            return -1;
        }
        if (!(key = ident(ps)))
        {
            ps->err = "a statement does not start with a name";
            return -1;
        }
        sep = *ps->p;
        *ps->p = 0;                    /* the key ends here; sep remembers the byte */
        if (sep == ' ' || sep == '\t' || sep == '\n' || sep == '\r')
        {
            ps->p++;
            skip_space(ps);
            sep = *ps->p;
        }
        if (sep == '{')
        {
            ps->p++;
            if (!(*tail = new_node(ps, LVM_SECTION, key)) || members(ps, *tail, depth + 1)) return -1;
            ps->p++;                   /* the '}' */
        }
        else if (sep == '=')
        {
            ps->p++;
            skip_space(ps);
            if (!(*tail = value(ps, key))) return -1;
        }
        else
        {
            ps->err = "a name is followed by neither '=' nor '{'";
            return -1;
        }
        tail = &(*tail)->next;
    }
    return 0;
}

int lvm_text_parse(char *text, struct lvm_tree *tree, const char **err)
{
    struct parser ps = { text, tree, NULL };

    memset(tree, 0, sizeof(*tree));
    if (!(tree->root = new_node(&ps, LVM_SECTION, "")) || members(&ps, tree->root, 0))
    {
        *err = ps.err ? ps.err : "out of memory";
        lvm_text_free(tree);
        return -1;
    }
    return 0;
}

void lvm_text_free(struct lvm_tree *tree)
{
    while (tree->allocated)
    {
        struct lvm_node *n = tree->allocated;
        tree->allocated = n->allocated;
        free(n);
    }
    memset(tree, 0, sizeof(*tree));
}

const struct lvm_node *lvm_get(const struct lvm_node *section, const char *key, enum lvm_kind kind)
{
    const struct lvm_node *n;

    for (n = section ? section->child : NULL; n; n = n->next)
        if (n->key && !strcmp(n->key, key)) return n->kind == kind ? n : NULL;
    return NULL;
}

int lvm_list_has(const struct lvm_node *section, const char *key, const char *s)
{
    const struct lvm_node *list = lvm_get(section, key, LVM_LIST), *n;

    for (n = list ? list->child : NULL; n; n = n->next)
        if (n->kind == LVM_STRING && !strcmp(n->str, s)) return 1;
    return 0;
}
