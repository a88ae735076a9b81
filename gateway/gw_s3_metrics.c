/* gw_s3_metrics: GET /metrics, Prometheus text. Requests, errors and a
 * latency histogram per operation, responses per status class, bodies per
 * SigV4 payload mode, bytes in and out, objects put, and the data path's
 * counters (docs/observability.md). Public: no authentication. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "gw_pack.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int s3_metrics_end(struct cn_http_req *req, void *cls)
{
    struct gw_s3 *s3 = cls;
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, "# HELP cairn_gw_requests_total S3 requests by operation.\n"
                    "# TYPE cairn_gw_requests_total counter\n");
    for (int i = 0; i < OP__COUNT; i++)
        gw_buf_printf(&b, "cairn_gw_requests_total{op=\"%s\"} %" PRIu64 "\n",
                      s3_op_name((enum s3_op)i), (uint64_t)s3->requests[i]);
    gw_buf_puts(&b, "# HELP cairn_gw_errors_total S3 error responses by operation.\n"
                    "# TYPE cairn_gw_errors_total counter\n");
    for (int i = 0; i < OP__COUNT; i++)
        gw_buf_printf(&b, "cairn_gw_errors_total{op=\"%s\"} %" PRIu64 "\n",
                      s3_op_name((enum s3_op)i), (uint64_t)s3->errors[i]);
    gw_buf_puts(&b, "# HELP cairn_gw_responses_total Responses by status class.\n"
                    "# TYPE cairn_gw_responses_total counter\n");
    static const char *const cls_names[6] = {"aborted", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++)
        gw_buf_printf(&b, "cairn_gw_responses_total{class=\"%s\"} %" PRIu64 "\n", cls_names[i],
                      (uint64_t)s3->status_class[i]);
    static const char *const modes[5] = {"signed", "unsigned", "streaming", "streaming-trailer",
                                         "streaming-unsigned-trailer"};
    gw_buf_puts(&b, "# HELP cairn_gw_payloads_total Request bodies by SigV4 payload mode.\n"
                    "# TYPE cairn_gw_payloads_total counter\n");
    for (int i = 0; i < 5; i++)
        gw_buf_printf(&b, "cairn_gw_payloads_total{mode=\"%s\"} %" PRIu64 "\n", modes[i],
                      (uint64_t)s3->payload_mode[i]);
    char *hist = NULL;
    size_t hist_len = 0;
    FILE *hf = open_memstream(&hist, &hist_len);
    if (hf) {
        cn_metrics_family(hf, "cairn_gw_request_seconds", "histogram",
                          "S3 request latency by operation, headers received to response sent.");
        for (int i = 0; i < OP__COUNT; i++) {
            char labels[64];
            snprintf(labels, sizeof(labels), "op=\"%s\"", s3_op_name((enum s3_op)i));
            cn_hist_series(hf, &s3->latency[i], "cairn_gw_request_seconds", labels);
        }
    }
    if (!hf || fclose(hf) != 0)
        b.err = CAIRN_E_NOMEM; /* answered with 500 below */
    else
        gw_buf_append(&b, hist, hist_len);
    free(hist);
    struct gw_data_stats ds;
    gw_ctx_stats(s3->data, &ds);
    gw_buf_printf(&b,
                  "# HELP cairn_gw_bytes_in_total S3 request body bytes received.\n"
                  "# TYPE cairn_gw_bytes_in_total counter\n"
                  "cairn_gw_bytes_in_total %" PRIu64 "\n"
                  "# HELP cairn_gw_bytes_out_total Object bytes sent by GetObject.\n"
                  "# TYPE cairn_gw_bytes_out_total counter\n"
                  "cairn_gw_bytes_out_total %" PRIu64 "\n"
                  "# TYPE cairn_gw_objects_put_total counter\n"
                  "cairn_gw_objects_put_total %" PRIu64 "\n"
                  "# TYPE cairn_gw_objects_inline_total counter\n"
                  "cairn_gw_objects_inline_total %" PRIu64 "\n"
                  "# HELP cairn_gw_degraded_reads_total Stripes served by decoding.\n"
                  "# TYPE cairn_gw_degraded_reads_total counter\n"
                  "cairn_gw_degraded_reads_total %" PRIu64 "\n"
                  "# HELP cairn_gw_decodes_total Fragments rebuilt by decoding.\n"
                  "# TYPE cairn_gw_decodes_total counter\n"
                  "cairn_gw_decodes_total %" PRIu64 "\n"
                  "# TYPE cairn_gw_fragment_errors_total counter\n"
                  "cairn_gw_fragment_errors_total %" PRIu64 "\n"
                  "# HELP cairn_gw_short_groups_total Groups committed with fewer than k+m "
                  "fragments.\n"
                  "# TYPE cairn_gw_short_groups_total counter\n"
                  "cairn_gw_short_groups_total %" PRIu64 "\n"
                  "# HELP cairn_gw_get_direct_fills_total GET stripes (or packed rounds) "
                  "written straight into the response block.\n"
                  "# TYPE cairn_gw_get_direct_fills_total counter\n"
                  "cairn_gw_get_direct_fills_total %" PRIu64 "\n"
                  "# HELP cairn_gw_get_prefetch_redone_total Prefetched GET stripes fetched "
                  "again (an answer failed, or timed out behind a slow client).\n"
                  "# TYPE cairn_gw_get_prefetch_redone_total counter\n"
                  "cairn_gw_get_prefetch_redone_total %" PRIu64 "\n"
                  "# HELP cairn_gw_data_memory_bytes Data-path buffer bytes taken from the "
                  "budget now.\n"
                  "# TYPE cairn_gw_data_memory_bytes gauge\n"
                  "cairn_gw_data_memory_bytes %" PRIu64 "\n"
                  "# HELP cairn_gw_data_memory_peak_bytes Most data-path buffer bytes taken at "
                  "once.\n"
                  "# TYPE cairn_gw_data_memory_peak_bytes gauge\n"
                  "cairn_gw_data_memory_peak_bytes %" PRIu64 "\n"
                  "# HELP cairn_gw_data_memory_limit_bytes The data-path memory budget "
                  "(--data-memory; 0: none).\n"
                  "# TYPE cairn_gw_data_memory_limit_bytes gauge\n"
                  "cairn_gw_data_memory_limit_bytes %" PRIu64 "\n"
                  "# HELP cairn_gw_data_memory_refused_total Requests refused with SlowDown "
                  "because the budget was exhausted.\n"
                  "# TYPE cairn_gw_data_memory_refused_total counter\n"
                  "cairn_gw_data_memory_refused_total %" PRIu64 "\n",
                  (uint64_t)s3->bytes_in, (uint64_t)s3->bytes_out, (uint64_t)s3->objects_put,
                  (uint64_t)s3->objects_inline, ds.degraded_reads, ds.decodes, ds.fragment_errors,
                  ds.short_groups, ds.direct_fills, ds.prefetch_redone, ds.mem_used, ds.mem_peak,
                  ds.mem_limit, ds.mem_refused);
    gw_buf_printf(&b,
                  "# HELP cairn_gw_meta_batches_total Metadata batches sent (--meta-batch): "
                  "several requests' commands and reads in one request to the leader.\n"
                  "# TYPE cairn_gw_meta_batches_total counter\n"
                  "cairn_gw_meta_batches_total %" PRIu64 "\n"
                  "# HELP cairn_gw_meta_batch_items_total Metadata commands and reads sent in "
                  "batches.\n"
                  "# TYPE cairn_gw_meta_batch_items_total counter\n"
                  "cairn_gw_meta_batch_items_total %" PRIu64 "\n"
                  "# HELP cairn_gw_meta_alone_total Metadata requests the batcher sent alone "
                  "(nothing else was waiting).\n"
                  "# TYPE cairn_gw_meta_alone_total counter\n"
                  "cairn_gw_meta_alone_total %" PRIu64 "\n"
                  "# HELP cairn_gw_meta_batch_again_total Batched metadata requests the leader "
                  "did not do (a leader change, a timeout), sent again alone.\n"
                  "# TYPE cairn_gw_meta_batch_again_total counter\n"
                  "cairn_gw_meta_batch_again_total %" PRIu64 "\n",
                  ds.md_batches, ds.md_batch_items, ds.md_alone, ds.md_again);
    if (s3->pack) {
        struct gw_pack_stats ps;
        gw_pack_stats(s3->pack, &ps);
        gw_buf_printf(
            &b,
            "# HELP cairn_gw_packed_objects_total Objects committed in packed groups.\n"
            "# TYPE cairn_gw_packed_objects_total counter\n"
            "cairn_gw_packed_objects_total %" PRIu64 "\n"
            "# HELP cairn_gw_packed_batches_total Packed batches committed (one append per "
            "fragment, one CommitPacked each).\n"
            "# TYPE cairn_gw_packed_batches_total counter\n"
            "cairn_gw_packed_batches_total %" PRIu64 "\n"
            "# HELP cairn_gw_packed_objects_per_batch Objects per committed batch, on "
            "average since start.\n"
            "# TYPE cairn_gw_packed_objects_per_batch gauge\n"
            "cairn_gw_packed_objects_per_batch %.2f\n"
            "# HELP cairn_gw_packed_bytes_total Object bytes in committed packed batches.\n"
            "# TYPE cairn_gw_packed_bytes_total counter\n"
            "cairn_gw_packed_bytes_total %" PRIu64 "\n"
            "# HELP cairn_gw_packed_padding_bytes_total Zero bytes appended to end packed "
            "objects on whole stripes.\n"
            "# TYPE cairn_gw_packed_padding_bytes_total counter\n"
            "cairn_gw_packed_padding_bytes_total %" PRIu64 "\n"
            "# HELP cairn_gw_packed_groups_opened_total Packed groups opened.\n"
            "# TYPE cairn_gw_packed_groups_opened_total counter\n"
            "cairn_gw_packed_groups_opened_total %" PRIu64 "\n"
            "# HELP cairn_gw_packed_groups_sealed_total Packed groups this gateway sealed "
            "(full, idle, after a failed append, at shutdown).\n"
            "# TYPE cairn_gw_packed_groups_sealed_total counter\n"
            "cairn_gw_packed_groups_sealed_total %" PRIu64 "\n"
            "# HELP cairn_gw_packed_append_failures_total Batches whose append did not reach "
            "all k+m chunkservers.\n"
            "# TYPE cairn_gw_packed_append_failures_total counter\n"
            "cairn_gw_packed_append_failures_total %" PRIu64 "\n"
            "# HELP cairn_gw_packed_retries_total Batches retried in a new packed group.\n"
            "# TYPE cairn_gw_packed_retries_total counter\n"
            "cairn_gw_packed_retries_total %" PRIu64 "\n"
            "# HELP cairn_gw_packed_fallbacks_total Objects the packer handed back to the "
            "ordinary path (no group, queue full).\n"
            "# TYPE cairn_gw_packed_fallbacks_total counter\n"
            "cairn_gw_packed_fallbacks_total %" PRIu64 "\n"
            "# HELP cairn_gw_packed_queued Objects waiting for a packer lane now.\n"
            "# TYPE cairn_gw_packed_queued gauge\n"
            "cairn_gw_packed_queued %" PRIu64 "\n",
            ps.objects, ps.batches, ps.batches ? (double)ps.objects / (double)ps.batches : 0.0,
            ps.bytes, ps.padding, ps.groups_opened, ps.groups_sealed, ps.append_failures,
            ps.retries, ps.fallbacks, ps.queued);
    }
    if (s3->keys) {
        struct gw_keycache_stats ks;
        gw_keycache_stats(s3->keys, &ks);
        gw_buf_printf(&b,
                      "# HELP cairn_gw_auth_cache_hits_total Keys resolved from the gateway's copy "
                      "of the access keys (no metadata read).\n"
                      "# TYPE cairn_gw_auth_cache_hits_total counter\n"
                      "cairn_gw_auth_cache_hits_total %" PRIu64 "\n"
                      "# HELP cairn_gw_auth_cache_unknown_total Unknown or disabled keys refused "
                      "from the copy (no metadata read).\n"
                      "# TYPE cairn_gw_auth_cache_unknown_total counter\n"
                      "cairn_gw_auth_cache_unknown_total %" PRIu64 "\n"
                      "# HELP cairn_gw_auth_key_reads_total Metadata reads of one access key "
                      "(first use of a key, or no fresh copy).\n"
                      "# TYPE cairn_gw_auth_key_reads_total counter\n"
                      "cairn_gw_auth_key_reads_total %" PRIu64 "\n"
                      "# HELP cairn_gw_auth_confirmed_in_read_total Keys confirmed by the "
                      "request's own authorization read (no read of their own).\n"
                      "# TYPE cairn_gw_auth_confirmed_in_read_total counter\n"
                      "cairn_gw_auth_confirmed_in_read_total %" PRIu64 "\n"
                      "# HELP cairn_gw_auth_refreshes_total Reads of the whole access-key table.\n"
                      "# TYPE cairn_gw_auth_refreshes_total counter\n"
                      "cairn_gw_auth_refreshes_total %" PRIu64 "\n"
                      "# HELP cairn_gw_auth_refreshes_forced_total Of those, brought forward by "
                      "a key the copy did not have.\n"
                      "# TYPE cairn_gw_auth_refreshes_forced_total counter\n"
                      "cairn_gw_auth_refreshes_forced_total %" PRIu64 "\n"
                      "# HELP cairn_gw_auth_refresh_failures_total Reads of the access-key table "
                      "that failed.\n"
                      "# TYPE cairn_gw_auth_refresh_failures_total counter\n"
                      "cairn_gw_auth_refresh_failures_total %" PRIu64 "\n"
                      "# HELP cairn_gw_auth_keys Access keys in the gateway's copy.\n"
                      "# TYPE cairn_gw_auth_keys gauge\n"
                      "cairn_gw_auth_keys %" PRIu64 "\n",
                      ks.hits, ks.unknown, ks.key_reads, ks.folded, ks.refreshes, ks.forced,
                      ks.refresh_fails, ks.keys);
    }
    struct cn_http_server_counters hc = {0};
    for (size_t i = 0; i < s3->n_srvs; i++) {
        struct cn_http_server_counters c;
        cn_http_server_counters(s3->srvs[i], &c);
        hc.accepted += c.accepted;
        hc.open += c.open;
        hc.header_timeouts += c.header_timeouts;
        hc.limit_refused += c.limit_refused;
    }
    gw_buf_printf(&b,
                  "# HELP cairn_gw_connections_accepted_total Client connections accepted.\n"
                  "# TYPE cairn_gw_connections_accepted_total counter\n"
                  "cairn_gw_connections_accepted_total %" PRIu64 "\n"
                  "# HELP cairn_gw_connections_open Client connections open now.\n"
                  "# TYPE cairn_gw_connections_open gauge\n"
                  "cairn_gw_connections_open %" PRIu64 "\n"
                  "# HELP cairn_gw_connections_refused_total Connections refused at "
                  "--max-connections or --per-ip-connections.\n"
                  "# TYPE cairn_gw_connections_refused_total counter\n"
                  "cairn_gw_connections_refused_total %" PRIu64 "\n"
                  "# HELP cairn_gw_header_timeouts_total Connections closed because their "
                  "headers were not in within --header-timeout.\n"
                  "# TYPE cairn_gw_header_timeouts_total counter\n"
                  "cairn_gw_header_timeouts_total %" PRIu64 "\n",
                  hc.accepted, hc.open, hc.limit_refused, hc.header_timeouts);
    gw_buf_printf(&b,
                  "# HELP cairn_gw_gets_cut_total GetObject bodies cut at --max-get-duration.\n"
                  "# TYPE cairn_gw_gets_cut_total counter\n"
                  "cairn_gw_gets_cut_total %" PRIu64 "\n",
                  (uint64_t)s3->gets_cut);
    gw_buf_printf(&b,
                  "# HELP cairn_gw_anonymous_cached_total Anonymous requests refused again "
                  "without a metadata read.\n"
                  "# TYPE cairn_gw_anonymous_cached_total counter\n"
                  "cairn_gw_anonymous_cached_total %" PRIu64 "\n",
                  (uint64_t)s3->anon_cached);
    int rc;
    cn_http_resp_header(req, "x-amz-request-id", cn_http_req_id(req));
    if (gw_buf_error(&b) == 0)
        rc = cn_http_respond(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    else
        rc = cn_http_respond_error(req, 500, NULL);
    gw_buf_free(&b);
    return rc;
}
