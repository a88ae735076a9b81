/* Tagging and CORS (issue #13): an object's tag set, a bucket's tag set and
 * a bucket's CORS configuration, each replaced whole by one command, so two
 * writers never interleave a read-modify-write. The gateway checked S3's
 * rules (gateway/gw_tagging.h, gw_cors.h); the limits here only keep a
 * record bounded whoever proposes the command. */
#include "md_sm_int.h"

#include "cn_error.h"

#include <string.h>

#define OBJECT_TAGS_MAX 10
#define BUCKET_TAGS_MAX 50
#define TAG_KEY_BYTES   512  /* 128 UTF-16 units take at most 512 UTF-8 bytes */
#define TAG_VALUE_BYTES 1024 /* 256 UTF-16 units */
#define CORS_RULES_MAX  100
#define CORS_LIST_MAX   256   /* entries in one list of a rule */
#define CORS_BYTES_MAX  65536 /* S3's limit for the configuration document */

/* 1 if tags[n] fit: at most max, keys non-empty and unique, sizes bounded. */
static int tags_ok(Md__Tag *const *tags, size_t n, size_t max)
{
    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!tags[i]->key[0] || strlen(tags[i]->key) > TAG_KEY_BYTES ||
            strlen(tags[i]->value) > TAG_VALUE_BYTES)
            return 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(tags[i]->key, tags[j]->key) == 0)
                return 0;
    }
    return 1;
}

int sm_cmd_put_object_tagging(struct exec *x, const Md__PutObjectTagging *c)
{
    if (!tags_ok(c->tags, c->n_tags, OBJECT_TAGS_MAX))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid tag set");
    int rc = sm_need_bucket(x, c->bucket);
    if (rc)
        return rc;
    if (!md_valid_objkey(c->key))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    struct sm_version v;
    if ((rc = sm_find_version(x, c->bucket, c->key, c->version_id, &v)))
        return rc;
    if (!v.rec)
        return c->version_id[0]
                   ? sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_VERSION,
                               "no such version")
                   : sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, "no such key");
    if (v.rec->delete_marker) {
        sm_version_free(&v);
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_DELETE_MARKER,
                         "a delete marker has no tags");
    }
    Md__ObjectAttrs none = MD__OBJECT_ATTRS__INIT;
    Md__ObjectAttrs *keep = v.rec->attrs;
    Md__ObjectAttrs a = keep ? *keep : none;
    a.n_tags = c->n_tags;
    a.tags = c->tags;
    v.rec->attrs = &a;
    rc = sm_rewrite_version(x, &v);
    v.rec->attrs = keep; /* the record's own attrs are freed with it */
    sm_version_free(&v);
    return rc;
}

/* Loads bucket's record for an update (refusing NoSuchBucket). */
static int bucket_for_update(struct exec *x, const char *bucket, struct md_key *k,
                             Md__BucketRecord **out)
{
    int rc = sm_need_bucket(x, bucket);
    if (rc)
        return rc;
    key_bucket(k, bucket);
    return unpack_as(x, k, bucket_record, out);
}

int sm_cmd_put_bucket_tagging(struct exec *x, const Md__PutBucketTagging *c)
{
    if (!tags_ok(c->tags, c->n_tags, BUCKET_TAGS_MAX))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid tag set");
    struct md_key k;
    Md__BucketRecord *b;
    int rc = bucket_for_update(x, c->bucket, &k, &b);
    if (rc)
        return rc;
    size_t keep_n = b->n_tags;
    Md__Tag **keep = b->tags;
    b->n_tags = c->n_tags;
    b->tags = c->tags;
    rc = put_msg(x, &k, b);
    b->n_tags = keep_n;
    b->tags = keep;
    free_msg(b);
    return rc;
}

/* 1 if the configuration is bounded: rules, list lengths, total bytes. */
static int cors_ok(const Md__CorsConfig *cfg)
{
    if (cfg->n_rules > CORS_RULES_MAX)
        return 0;
    size_t bytes = 0;
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const Md__CorsRule *r = cfg->rules[i];
        if (r->n_allowed_origins == 0 || r->n_allowed_methods == 0 ||
            r->n_allowed_origins > CORS_LIST_MAX || r->n_allowed_methods > CORS_LIST_MAX ||
            r->n_allowed_headers > CORS_LIST_MAX || r->n_expose_headers > CORS_LIST_MAX)
            return 0;
        bytes += strlen(r->id);
        for (size_t j = 0; j < r->n_allowed_origins; j++)
            bytes += strlen(r->allowed_origins[j]);
        for (size_t j = 0; j < r->n_allowed_methods; j++)
            bytes += strlen(r->allowed_methods[j]);
        for (size_t j = 0; j < r->n_allowed_headers; j++)
            bytes += strlen(r->allowed_headers[j]);
        for (size_t j = 0; j < r->n_expose_headers; j++)
            bytes += strlen(r->expose_headers[j]);
    }
    return bytes <= CORS_BYTES_MAX;
}

int sm_cmd_put_bucket_cors(struct exec *x, const Md__PutBucketCors *c)
{
    Md__CorsConfig *cfg = c->cors && c->cors->n_rules ? c->cors : NULL;
    if (cfg && !cors_ok(cfg))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "invalid CORS configuration");
    struct md_key k;
    Md__BucketRecord *b;
    int rc = bucket_for_update(x, c->bucket, &k, &b);
    if (rc)
        return rc;
    Md__CorsConfig *keep = b->cors;
    b->cors = cfg;
    rc = put_msg(x, &k, b);
    b->cors = keep;
    free_msg(b);
    return rc;
}
