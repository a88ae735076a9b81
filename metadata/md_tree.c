#include "md_tree.h"
#include "cn_error.h"

#include <stdlib.h>
#include <string.h>

/* Key and value bytes live in one refcounted entry, shared by every node copy
 * made while path-copying, so an update copies O(log n) small nodes and never
 * the data. */
struct md_tree_entry {
    uint32_t refs;
    int tombstone;
    size_t klen, vlen;
    unsigned char data[]; /* key then value */
};

struct md_tree_node {
    uint32_t refs;
    uint64_t prio;
    struct md_tree_entry *entry;
    struct md_tree_node *left, *right; /* owned references */
};

int md_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

static uint64_t key_priority(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    /* splitmix64 finaliser: FNV alone is poorly mixed in the high bits. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static void entry_unref(struct md_tree_entry *e)
{
    if (e && --e->refs == 0)
        free(e);
}

static struct md_tree_node *node_ref(struct md_tree_node *n)
{
    if (n)
        n->refs++;
    return n;
}

static void node_unref(struct md_tree_node *n)
{
    while (n && --n->refs == 0) {
        struct md_tree_node *right = n->right;
        node_unref(n->left);
        entry_unref(n->entry);
        free(n);
        n = right; /* iterate on one side to halve the recursion */
    }
}

/* A new node (refs 1); takes ownership of the given child references and adds
 * a reference to entry. On allocation failure releases the children. */
static struct md_tree_node *node_new(struct md_tree_entry *e, uint64_t prio,
                                     struct md_tree_node *left, struct md_tree_node *right)
{
    struct md_tree_node *n = malloc(sizeof(*n));
    if (!n) {
        node_unref(left);
        node_unref(right);
        return NULL;
    }
    n->refs = 1;
    n->prio = prio;
    n->entry = e;
    e->refs++;
    n->left = left;
    n->right = right;
    return n;
}

static const unsigned char *entry_key(const struct md_tree_entry *e)
{
    return e->data;
}

void md_tree_init(struct md_tree *t)
{
    t->root = NULL;
    t->count = 0;
}

void md_tree_destroy(struct md_tree *t)
{
    node_unref(t->root);
    t->root = NULL;
    t->count = 0;
}

struct md_tree_node *md_tree_root_ref(const struct md_tree *t)
{
    return node_ref(t->root);
}

void md_tree_root_unref(struct md_tree_node *root)
{
    node_unref(root);
}

/* Returns a new tree: t with e inserted (replacing an equal key). Does not
 * consume t. *replaced is set when the key existed. NULL on ENOMEM. */
static struct md_tree_node *insert(struct md_tree_node *t, struct md_tree_entry *e, uint64_t prio,
                                   int *replaced, int *nomem)
{
    if (!t) {
        struct md_tree_node *n = node_new(e, prio, NULL, NULL);
        if (!n)
            *nomem = 1;
        return n;
    }
    int c = md_key_cmp(e->data, e->klen, entry_key(t->entry), t->entry->klen);
    if (c == 0) {
        *replaced = 1;
        struct md_tree_node *n = node_new(e, t->prio, node_ref(t->left), node_ref(t->right));
        if (!n)
            *nomem = 1;
        return n;
    }
    if (c < 0) {
        struct md_tree_node *l = insert(t->left, e, prio, replaced, nomem);
        if (!l)
            return NULL;
        if (l->prio > t->prio && l->refs == 1 && l->entry == e) {
            /* l is the fresh node: rotate right (l is ours to modify). */
            struct md_tree_node *tn = node_new(t->entry, t->prio, l->right, node_ref(t->right));
            if (!tn) {
                l->right = NULL;
                node_unref(l);
                *nomem = 1;
                return NULL;
            }
            l->right = tn;
            return l;
        }
        struct md_tree_node *n = node_new(t->entry, t->prio, l, node_ref(t->right));
        if (!n)
            *nomem = 1;
        return n;
    }
    struct md_tree_node *r = insert(t->right, e, prio, replaced, nomem);
    if (!r)
        return NULL;
    if (r->prio > t->prio && r->refs == 1 && r->entry == e) {
        struct md_tree_node *tn = node_new(t->entry, t->prio, node_ref(t->left), r->left);
        if (!tn) {
            r->left = NULL;
            node_unref(r);
            *nomem = 1;
            return NULL;
        }
        r->left = tn;
        return r;
    }
    struct md_tree_node *n = node_new(t->entry, t->prio, node_ref(t->left), r);
    if (!n)
        *nomem = 1;
    return n;
}

int md_tree_put(struct md_tree *t, const void *key, size_t klen, const void *val, size_t vlen,
                int tombstone)
{
    struct md_tree_entry *e = malloc(sizeof(*e) + klen + vlen);
    if (!e)
        return CAIRN_E_NOMEM;
    e->refs = 1;
    e->tombstone = tombstone;
    e->klen = klen;
    e->vlen = tombstone ? 0 : vlen;
    if (klen)
        memcpy(e->data, key, klen);
    if (e->vlen)
        memcpy(e->data + klen, val, vlen);
    int replaced = 0, nomem = 0;
    struct md_tree_node *root = insert(t->root, e, key_priority(key, klen), &replaced, &nomem);
    entry_unref(e);
    if (!root)
        return CAIRN_E_NOMEM;
    node_unref(t->root);
    t->root = root;
    if (!replaced)
        t->count++;
    return 0;
}

/* A new tree holding a's keys then b's (all of a < all of b). Non-consuming. */
static struct md_tree_node *merge(struct md_tree_node *a, struct md_tree_node *b, int *nomem)
{
    if (!a)
        return node_ref(b);
    if (!b)
        return node_ref(a);
    if (a->prio > b->prio) {
        struct md_tree_node *r = merge(a->right, b, nomem);
        if (*nomem)
            return NULL;
        struct md_tree_node *n = node_new(a->entry, a->prio, node_ref(a->left), r);
        if (!n)
            *nomem = 1;
        return n;
    }
    struct md_tree_node *l = merge(a, b->left, nomem);
    if (*nomem)
        return NULL;
    struct md_tree_node *n = node_new(b->entry, b->prio, l, node_ref(b->right));
    if (!n)
        *nomem = 1;
    return n;
}

/* t without key (which must be present). Non-consuming. */
static struct md_tree_node *delete_key(struct md_tree_node *t, const void *key, size_t klen,
                                       int *nomem)
{
    int c = md_key_cmp(key, klen, entry_key(t->entry), t->entry->klen);
    if (c == 0)
        return merge(t->left, t->right, nomem);
    struct md_tree_node *n;
    if (c < 0) {
        struct md_tree_node *l = delete_key(t->left, key, klen, nomem);
        if (*nomem)
            return NULL;
        n = node_new(t->entry, t->prio, l, node_ref(t->right));
    } else {
        struct md_tree_node *r = delete_key(t->right, key, klen, nomem);
        if (*nomem)
            return NULL;
        n = node_new(t->entry, t->prio, node_ref(t->left), r);
    }
    if (!n)
        *nomem = 1;
    return n;
}

int md_tree_del(struct md_tree *t, const void *key, size_t klen)
{
    const void *v;
    size_t vl;
    int tomb;
    if (!md_tree_get(t, key, klen, &v, &vl, &tomb))
        return 0;
    int nomem = 0;
    struct md_tree_node *root = delete_key(t->root, key, klen, &nomem);
    if (nomem)
        return CAIRN_E_NOMEM;
    node_unref(t->root);
    t->root = root;
    t->count--;
    return 0;
}

int md_tree_get(const struct md_tree *t, const void *key, size_t klen, const void **val,
                size_t *vlen, int *tombstone)
{
    const struct md_tree_node *n = t->root;
    while (n) {
        int c = md_key_cmp(key, klen, entry_key(n->entry), n->entry->klen);
        if (c == 0) {
            *val = n->entry->data + n->entry->klen;
            *vlen = n->entry->vlen;
            *tombstone = n->entry->tombstone;
            return 1;
        }
        n = c < 0 ? n->left : n->right;
    }
    return 0;
}

void md_tree_iter_init(struct md_tree_iter *it, struct md_tree_node *root)
{
    it->root = node_ref(root);
    it->stack = NULL;
    it->depth = 0;
    it->cap = 0;
}

void md_tree_iter_destroy(struct md_tree_iter *it)
{
    node_unref(it->root);
    free(it->stack);
    it->root = NULL;
    it->stack = NULL;
    it->depth = it->cap = 0;
}

static int push(struct md_tree_iter *it, struct md_tree_node *n)
{
    if (it->depth == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 32;
        struct md_tree_node **s = realloc(it->stack, cap * sizeof(*s));
        if (!s) {
            it->depth = 0;
            return CAIRN_E_NOMEM;
        }
        it->stack = s;
        it->cap = cap;
    }
    it->stack[it->depth++] = n;
    return 0;
}

int md_tree_iter_seek(struct md_tree_iter *it, const void *key, size_t klen)
{
    it->depth = 0;
    struct md_tree_node *n = it->root;
    while (n) {
        if (md_key_cmp(entry_key(n->entry), n->entry->klen, key, klen) >= 0) {
            if (push(it, n))
                return CAIRN_E_NOMEM;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return 0;
}

int md_tree_iter_valid(const struct md_tree_iter *it)
{
    return it->depth > 0;
}

int md_tree_iter_next(struct md_tree_iter *it)
{
    if (!it->depth)
        return 0;
    struct md_tree_node *n = it->stack[--it->depth]->right;
    while (n) {
        if (push(it, n))
            return CAIRN_E_NOMEM;
        n = n->left;
    }
    return 0;
}

const void *md_tree_iter_key(const struct md_tree_iter *it, size_t *klen)
{
    const struct md_tree_entry *e = it->stack[it->depth - 1]->entry;
    *klen = e->klen;
    return e->data;
}

const void *md_tree_iter_value(const struct md_tree_iter *it, size_t *vlen, int *tombstone)
{
    const struct md_tree_entry *e = it->stack[it->depth - 1]->entry;
    *vlen = e->vlen;
    if (tombstone)
        *tombstone = e->tombstone;
    return e->data + e->klen;
}
