/* md_tree: a persistent (copy-on-write) sorted map from byte strings to byte
 * strings, ordered by memcmp with shorter-is-smaller. Internal to the metadata
 * store: it backs the in-memory store and the state machine's per-slot
 * overlay.
 *
 * Every update builds a new root and shares the untouched nodes with older
 * roots, so a root reference taken with md_tree_root_ref() is an O(1),
 * immutable snapshot that stays valid while the tree keeps changing. The tree
 * shape is a treap whose priorities are a hash of the key, so it is a
 * deterministic function of the key set.
 *
 * Not thread-safe: one thread at a time per tree and its snapshots. */
#ifndef CAIRN_MD_TREE_H
#define CAIRN_MD_TREE_H

#include <stddef.h>
#include <stdint.h>

struct md_tree_node;

struct md_tree {
    struct md_tree_node *root; /* owned reference, NULL when empty */
    size_t count;              /* number of keys (tombstones included) */
};

/* An initialised, empty tree. */
void md_tree_init(struct md_tree *t);
/* Drops the tree's reference to its nodes; snapshots taken earlier stay valid. */
void md_tree_destroy(struct md_tree *t);

/* Inserts or replaces key. A tombstone is a key with no value (the overlay
 * uses it to record a deletion). Returns 0 or CAIRN_E_NOMEM (tree unchanged). */
int md_tree_put(struct md_tree *t, const void *key, size_t klen, const void *val, size_t vlen,
                int tombstone);
/* Removes key if present. Returns 0 or CAIRN_E_NOMEM (tree unchanged). */
int md_tree_del(struct md_tree *t, const void *key, size_t klen);

/* Looks key up. Returns 1 and sets the out pointers (valid until the next
 * change of t) when found, 0 when absent. */
int md_tree_get(const struct md_tree *t, const void *key, size_t klen, const void **val,
                size_t *vlen, int *tombstone);

/* A new reference to the current root (a snapshot); NULL for an empty tree. */
struct md_tree_node *md_tree_root_ref(const struct md_tree *t);
/* Releases a reference obtained from md_tree_root_ref(). NULL is a no-op. */
void md_tree_root_unref(struct md_tree_node *root);

/* Forward iterator over a snapshot root. The iterator holds its own reference. */
struct md_tree_iter {
    struct md_tree_node *root;
    struct md_tree_node **stack;
    size_t depth, cap;
};

void md_tree_iter_init(struct md_tree_iter *it, struct md_tree_node *root);
void md_tree_iter_destroy(struct md_tree_iter *it);
/* Positions at the first key >= key (klen 0: the first key). 0 or CAIRN_E_NOMEM. */
int md_tree_iter_seek(struct md_tree_iter *it, const void *key, size_t klen);
int md_tree_iter_valid(const struct md_tree_iter *it);
/* Advances; 0 or CAIRN_E_NOMEM (then the iterator is invalid). */
int md_tree_iter_next(struct md_tree_iter *it);
const void *md_tree_iter_key(const struct md_tree_iter *it, size_t *klen);
const void *md_tree_iter_value(const struct md_tree_iter *it, size_t *vlen, int *tombstone);

/* memcmp order with shorter-is-smaller: the order LevelDB's default
 * comparator uses. */
int md_key_cmp(const void *a, size_t alen, const void *b, size_t blen);

#endif
