/* GETs of bucket configurations Cairn never stores: default encryption,
 * public access block, ownership controls, website, replication, logging,
 * notifications, request payment and transfer acceleration. S3 answers a
 * bucket without such a configuration either with an error naming the
 * missing configuration (404) or with the empty/default document; clients
 * (the aws CLI, boto3, Terraform, s3-tests) probe these and expect exactly
 * that, not NotImplemented. The PUTs and DELETEs stay NotImplemented: a
 * configuration Cairn would not act on is refused, never silently stored.
 *
 * Authorization ran before (gw_s3_authz.c: the bucket owner, or a policy
 * granting the Get* action); the bucket must exist. */
#include "gw_s3_int.h"

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

int s3_op_get_unset_config(struct cn_http_req *req, struct s3_req *r)
{
    Md__QueryResult *res = NULL;
    enum gw_s3err e = s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    s3_md_query_free(res);
    const char *doc = NULL;
    switch (r->op) {
    case OP_GET_BUCKET_ENCRYPTION:
        return s3_error(req, r, GW_S3_NO_SUCH_ENCRYPTION_CONFIGURATION, NULL);
    case OP_GET_PUBLIC_ACCESS_BLOCK:
        return s3_error(req, r, GW_S3_NO_SUCH_PUBLIC_ACCESS_BLOCK, NULL);
    case OP_GET_BUCKET_OWNERSHIP_CONTROLS:
        return s3_error(req, r, GW_S3_NO_SUCH_OWNERSHIP_CONTROLS, NULL);
    case OP_GET_BUCKET_WEBSITE:
        return s3_error(req, r, GW_S3_NO_SUCH_WEBSITE_CONFIGURATION, NULL);
    case OP_GET_BUCKET_REPLICATION:
        return s3_error(req, r, GW_S3_NO_SUCH_REPLICATION_CONFIGURATION, NULL);
    case OP_GET_BUCKET_LOGGING:
        doc = "<BucketLoggingStatus xmlns=\"" S3_NS "\"/>";
        break;
    case OP_GET_BUCKET_NOTIFICATION:
        doc = "<NotificationConfiguration xmlns=\"" S3_NS "\"/>";
        break;
    case OP_GET_BUCKET_REQUEST_PAYMENT:
        doc = "<RequestPaymentConfiguration xmlns=\"" S3_NS "\"><Payer>BucketOwner</Payer>"
              "</RequestPaymentConfiguration>";
        break;
    case OP_GET_BUCKET_ACCELERATE:
        doc = "<AccelerateConfiguration xmlns=\"" S3_NS "\"/>";
        break;
    default:
        return s3_error(req, r, GW_S3_NOT_IMPLEMENTED, NULL);
    }
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, XML_DECL);
    gw_buf_puts(&b, doc);
    s3_respond_xml(req, r, gw_buf_error(&b), &b);
    return 0;
}
