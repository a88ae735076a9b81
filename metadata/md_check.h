/* md_check: a full consistency check of the state machine's store — the
 * invariants every command must keep. For tests and the simulator (run it
 * after every step), and for an operator's `cairn` check of a replica.
 * Reads one consistent snapshot; cost O(size of the state). */
#ifndef CAIRN_MD_CHECK_H
#define CAIRN_MD_CHECK_H

#include "md_store.h"

#include <stddef.h>

/* Checks, among others: every object and part has valid extents and a
 * bucket (parts: an upload); every live group has exactly one locator that
 * names the record holding it, and one fragment-index key per fragment
 * (location 0 included) and no stray ones; garbage entries and their
 * per-chunkserver index agree; the session table and its age index agree
 * with the session count; every bucket's usage is what its objects add up to
 * and every user's what its buckets add up to; the owner index and the
 * buckets' owners agree.
 * Returns 0 if all hold, CAIRN_E_CORRUPT with a description of the first
 * violation in why (if not NULL), or another error if the store failed. */
int md_sm_check(struct md_store *store, char *why, size_t why_len);

#endif
