/* S3 access control lists: the model (an owner and up to 100 grants, each one
 * grantee and one permission), built from a canned ACL name, from the
 * x-amz-grant-* request headers or from an AccessControlPolicy XML body;
 * rendered as the AccessControlPolicy document GetBucketAcl/GetObjectAcl
 * answer; encoded for storage as the md.Acl protobuf message
 * (common/proto/meta.proto); and asked whether it grants a permission.
 *
 * Semantics follow Amazon S3 ("Access control list (ACL) overview"):
 *   - grantees: a canonical user (id, optional display name), the groups
 *     AllUsers (anyone, signed or not), AuthenticatedUsers (any signed
 *     request) and LogDelivery (accepted and stored; Cairn has no log
 *     delivery service, so it matches no request). Grants by e-mail address
 *     are refused with UnresolvableGrantByEmailAddress, as S3 does in the
 *     regions that do not support them.
 *   - FULL_CONTROL implies READ, WRITE, READ_ACP and WRITE_ACP.
 *   - An ACL only grants; it never denies. Ownership (the owner's implicit
 *     rights) is decided by gw_authz from the owner it is given, not from
 *     acl->owner_id, which is what the ACL document shows.
 *
 * Pure functions: no I/O, no globals; thread-safe once gw_xml_init() has run
 * (libxml2). Errors: functions return 0 or a negative CAIRN_E_* code; the
 * request-facing ones also set *err to the S3 error to answer with, and *msg
 * (when msg is not NULL) to a static message for that error. */
#ifndef CAIRN_GW_ACL_H
#define CAIRN_GW_ACL_H

#include "gw_buf.h"
#include "gw_s3err.h"
#include "meta.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define GW_ACL_MAX_GRANTS 100          /* S3's limit on grants in one ACL */
#define GW_ACL_MAX_ID     256          /* bytes of a canonical id or display name */
#define GW_ACL_MAX_BODY   (64u * 1024) /* bytes of an AccessControlPolicy body */

#define GW_ACL_URI_ALL_USERS           "http://acs.amazonaws.com/groups/global/AllUsers"
#define GW_ACL_URI_AUTHENTICATED_USERS "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
#define GW_ACL_URI_LOG_DELIVERY        "http://acs.amazonaws.com/groups/s3/LogDelivery"

enum gw_acl_perm {
    GW_ACL_READ = 1,
    GW_ACL_WRITE,
    GW_ACL_READ_ACP,
    GW_ACL_WRITE_ACP,
    GW_ACL_FULL_CONTROL,
};

enum gw_acl_grantee {
    GW_ACL_USER = 1,            /* xsi:type="CanonicalUser" */
    GW_ACL_ALL_USERS,           /* xsi:type="Group", GW_ACL_URI_ALL_USERS */
    GW_ACL_AUTHENTICATED_USERS, /* xsi:type="Group", GW_ACL_URI_AUTHENTICATED_USERS */
    GW_ACL_LOG_DELIVERY,        /* xsi:type="Group", GW_ACL_URI_LOG_DELIVERY */
};

struct gw_acl_grant {
    enum gw_acl_grantee grantee;
    char *id;           /* GW_ACL_USER: canonical id (never empty); groups: NULL */
    char *display_name; /* GW_ACL_USER: may be NULL; groups: NULL */
    enum gw_acl_perm perm;
};

/* An ACL. Every string and the grants array are malloc'd and belong to the
 * ACL: build one only with the functions below and free it with
 * gw_acl_free(). Callers may read the fields; they must not change them. */
struct gw_acl {
    char *owner_id;           /* NULL only for a parsed XML body without <Owner> */
    char *owner_display_name; /* may be NULL */
    size_t n_grants;          /* <= GW_ACL_MAX_GRANTS */
    struct gw_acl_grant *grants;
};

/* A canonical id and display name, borrowed for the duration of a call. */
struct gw_acl_owner {
    const char *id;           /* canonical id, not NULL or empty */
    const char *display_name; /* may be NULL */
};

/* The ACL headers of a request, NULL where absent; borrowed. */
struct gw_acl_headers {
    const char *acl; /* x-amz-acl (canned ACL name) */
    const char *grant_read;
    const char *grant_write;
    const char *grant_read_acp;
    const char *grant_write_acp;
    const char *grant_full_control;
};

/* "READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"; "" for an invalid
 * value. Never NULL. */
const char *gw_acl_perm_name(enum gw_acl_perm p);

/* A new ACL owned by owner (copied) with no grants. Returns 0 and *out (free
 * with gw_acl_free), CAIRN_E_INVAL (owner id NULL, empty or longer than
 * GW_ACL_MAX_ID) or CAIRN_E_NOMEM. */
int gw_acl_new(const struct gw_acl_owner *owner, struct gw_acl **out);

/* Appends a grant. id/display_name are copied; for a group grantee both must
 * be NULL, for GW_ACL_USER id must be 1..GW_ACL_MAX_ID bytes without control
 * characters (display_name optional, same bound). Returns 0, CAIRN_E_INVAL
 * (bad argument), CAIRN_E_RANGE (already GW_ACL_MAX_GRANTS grants) or
 * CAIRN_E_NOMEM; on error acl is unchanged. */
int gw_acl_add(struct gw_acl *acl, enum gw_acl_grantee grantee, const char *id,
               const char *display_name, enum gw_acl_perm perm);

/* Frees acl and everything it owns. NULL is a no-op. */
void gw_acl_free(struct gw_acl *acl);

/* A deep copy of acl. Returns 0 and *out, or CAIRN_E_NOMEM. */
int gw_acl_copy(const struct gw_acl *acl, struct gw_acl **out);

/* 1 if a and b have the same owner and the same grants in the same order
 * (NULL strings equal only NULL), else 0. */
int gw_acl_equal(const struct gw_acl *a, const struct gw_acl *b);

/* The canned ACL name for a bucket or an object owned by owner:
 *   private                    owner FULL_CONTROL
 *   public-read                + AllUsers READ
 *   public-read-write          + AllUsers READ, AllUsers WRITE
 *   authenticated-read         + AuthenticatedUsers READ
 *   bucket-owner-read          objects: + bucket owner READ
 *   bucket-owner-full-control  objects: + bucket owner FULL_CONTROL
 *   log-delivery-write         + LogDelivery WRITE, LogDelivery READ_ACP
 * bucket_owner is NULL when the ACL is for a bucket: then the two
 * bucket-owner-* names give "private" (S3 ignores them on buckets). When the
 * bucket owner is the object owner the extra grant is left out (the owner's
 * FULL_CONTROL already covers it). Names are case-sensitive, as in S3.
 * Returns 0 and *out; CAIRN_E_INVAL with *err = InvalidArgument for an
 * unknown name (aws-exec-read included: Cairn has no EC2 to grant to);
 * CAIRN_E_NOMEM with *err = InternalError; an owner without a valid id is
 * the caller's bug: CAIRN_E_INVAL with *err = InternalError. */
int gw_acl_canned(const char *name, const struct gw_acl_owner *owner,
                  const struct gw_acl_owner *bucket_owner, struct gw_acl **out, enum gw_s3err *err,
                  const char **msg);

/* The ACL a request's headers ask for, owned by owner:
 *   - no ACL header at all: returns 0 with *out = NULL (the caller applies
 *     its default, normally "private", or reads the request body);
 *   - x-amz-acl: as gw_acl_canned();
 *   - x-amz-grant-*: exactly the grants listed, in header order read, write,
 *     read-acp, write-acp, full-control (the owner gets no implicit grant,
 *     as in S3). Each value is a comma-separated list of type=value with
 *     type id, uri or emailAddress (case-insensitive) and the value in
 *     double quotes or bare: id="abc", uri=http://acs.amazonaws.com/...;
 *   - both x-amz-acl and a grant header: InvalidRequest "Specifying both
 *     Canned ACLs and Header Grants is not allowed".
 * Errors (CAIRN_E_INVAL): InvalidArgument for a malformed list, an unknown
 * type, an unknown group URI, an empty or over-long id, more than
 * GW_ACL_MAX_GRANTS grants; UnresolvableGrantByEmailAddress for
 * emailAddress. CAIRN_E_NOMEM: InternalError. */
int gw_acl_from_headers(const struct gw_acl_headers *h, const struct gw_acl_owner *owner,
                        const struct gw_acl_owner *bucket_owner, struct gw_acl **out,
                        enum gw_s3err *err, const char **msg);

/* Parses an AccessControlPolicy body (PutBucketAcl / PutObjectAcl):
 *   <AccessControlPolicy><Owner><ID/><DisplayName/></Owner>
 *   <AccessControlList><Grant><Grantee xsi:type="..">..</Grantee>
 *   <Permission/></Grant>...</AccessControlList></AccessControlPolicy>
 * Element names are matched without regard to namespace (clients differ);
 * xsi:type must be in the XML Schema instance namespace and is one of
 * CanonicalUser (ID required, DisplayName optional), Group (URI required) or
 * AmazonCustomerByEmail (refused: UnresolvableGrantByEmailAddress). Owner is
 * optional (acl->owner_id NULL then); the caller must check that a given
 * owner is the resource's owner. libxml2 runs as in gw_xml.h: no network, no
 * entities, no DTD; bodies over GW_ACL_MAX_BODY are refused.
 * Returns 0 and *out, or CAIRN_E_INVAL with *err MalformedACLError (not
 * well-formed, unknown or repeated element, missing field, bad permission,
 * more than GW_ACL_MAX_GRANTS grants), InvalidArgument (unknown group URI)
 * or UnresolvableGrantByEmailAddress; CAIRN_E_NOMEM with InternalError. */
int gw_acl_parse_xml(const char *body, size_t len, struct gw_acl **out, enum gw_s3err *err,
                     const char **msg);

/* Appends the AccessControlPolicy document for acl, as GetBucketAcl and
 * GetObjectAcl answer it (S3 namespace; each Grantee declares xmlns:xsi and
 * carries xsi:type; DisplayName elements only where a name is known). acl
 * must have an owner. Returns gw_buf_error(b), or CAIRN_E_INVAL. */
int gw_acl_xml(struct gw_buf *b, const struct gw_acl *acl);

/* 1 if acl grants perm (directly or through FULL_CONTROL) to the requester:
 * canonical_id is the requester's canonical id, NULL for an anonymous
 * request. CanonicalUser grants match the id exactly; AllUsers matches
 * everyone; AuthenticatedUsers matches any non-NULL canonical_id; LogDelivery
 * matches nobody. A NULL acl grants nothing. */
int gw_acl_allows(const struct gw_acl *acl, const char *canonical_id, enum gw_acl_perm perm);

/* Storage encoding: the md.Acl protobuf message, version 1.
 * gw_acl_pack: returns 0 with *buf (malloc'd, free() it) and *len, or
 * CAIRN_E_INVAL (acl without owner) / CAIRN_E_NOMEM.
 * gw_acl_unpack: returns 0 and *out, CAIRN_E_CORRUPT for bytes that are not a
 * valid version-1 Acl (unknown grantee or permission, missing id, too many
 * grants, ...) or CAIRN_E_NOMEM. */
int gw_acl_pack(const struct gw_acl *acl, uint8_t **buf, size_t *len);
int gw_acl_unpack(const uint8_t *buf, size_t len, struct gw_acl **out);

/* The same encoding as a message, for embedding md.Acl in another record.
 * gw_acl_to_proto: returns 0 with *out (malloc'd tree; free it with
 * gw_acl_proto_free, never with md__acl__free_unpacked), CAIRN_E_INVAL or
 * CAIRN_E_NOMEM. gw_acl_from_proto: validates and copies m (which stays the
 * caller's); returns 0 and *out, CAIRN_E_CORRUPT or CAIRN_E_NOMEM. */
int gw_acl_to_proto(const struct gw_acl *acl, Md__Acl **out);
void gw_acl_proto_free(Md__Acl *m);
int gw_acl_from_proto(const Md__Acl *m, struct gw_acl **out);

#endif
