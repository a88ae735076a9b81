"""The web application of the browser test (s3_cors_post_test.sh): prepares a
bucket for browser use and serves the pages headless Chromium loads, from two
origins, recording what the browser did.

usage: s3_browser.py ENDPOINT AK SK OUTDIR

Sets up bucket "browser": a CORS rule for origin A only (GET, PUT, POST;
headers x-amz-meta-* and Content-Type; ETag and x-amz-meta-color exposed),
public read of public/* by bucket policy, public/hello.txt. Then serves on two
ephemeral ports of 127.0.0.1 (origins A and B; written to OUTDIR/ports as
"A B" once both listen):

  /form.html   a real HTML form (method=post, enctype=multipart/form-data)
               to the gateway with the fields of a SigV4 POST policy signed
               here (boto3), success_action_redirect to /done on origin A;
               its script puts a File into the file input and submits it
  /done        where the gateway redirects after the upload: records the
               query (bucket, key, etag)
  /cors.html   fetch() calls to the gateway (a preflighted GET reading
               exposed headers, a header the rule does not allow, a simple
               GET, and with ?post=1 a POST upload of a FormData), results
               POSTed to /report
  /report      records a page's results

Every record is one JSON line in OUTDIR/events.jsonl: {"event": "done",
"query": {...}} or {"event": "report", "origin": "A"|"B", "results": {...}}.
Runs until killed."""
import html
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config

endpoint, ak, sk, outdir = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=ak, aws_secret_access_key=sk,
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
lock = threading.Lock()

srv_a = ThreadingHTTPServer(("127.0.0.1", 0), None)
srv_b = ThreadingHTTPServer(("127.0.0.1", 0), None)
origin_a = f"http://127.0.0.1:{srv_a.server_address[1]}"
origin_b = f"http://127.0.0.1:{srv_b.server_address[1]}"

s3.create_bucket(Bucket="browser")
s3.put_bucket_cors(Bucket="browser", CORSConfiguration={"CORSRules": [
    {"AllowedOrigins": [origin_a], "AllowedMethods": ["GET", "PUT", "POST"],
     "AllowedHeaders": ["x-amz-meta-*", "Content-Type"],
     "ExposeHeaders": ["ETag", "x-amz-meta-color"], "MaxAgeSeconds": 60}]})
s3.put_bucket_policy(Bucket="browser", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::browser/public/*"}]}))
s3.put_object(Bucket="browser", Key="public/hello.txt", Body=b"hello from the gateway",
              Metadata={"color": "blue"})

done_url = origin_a + "/done"
form_post = s3.generate_presigned_post(
    Bucket="browser", Key="uploads/${filename}",
    Fields={"success_action_redirect": done_url, "x-amz-meta-from": "chromium-form"},
    Conditions=[["starts-with", "$key", "uploads/"], {"success_action_redirect": done_url},
                {"x-amz-meta-from": "chromium-form"}, ["content-length-range", 1, 1000]],
    ExpiresIn=600)
fetch_post = s3.generate_presigned_post(
    Bucket="browser", Key="fetched/${filename}", Fields={"success_action_status": "201"},
    Conditions=[["starts-with", "$key", "fetched/"], {"success_action_status": "201"},
                ["content-length-range", 1, 1000]],
    ExpiresIn=600)


def form_page():
    inputs = "\n".join(
        f'    <input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in form_post["fields"].items())
    return f"""<!DOCTYPE html>
<html><head><title>upload</title></head><body>
  <form id="up" action="{html.escape(endpoint)}/browser" method="post"
        enctype="multipart/form-data">
{inputs}
    <input type="file" name="file" id="file">
    <input type="submit" value="Upload">
  </form>
  <script>
    const dt = new DataTransfer();
    dt.items.add(new File(["uploaded by a form in chromium\\n"], "form.txt",
                          {{type: "text/plain"}}));
    document.getElementById("file").files = dt.files;
    document.getElementById("up").submit();
  </script>
</body></html>"""


def cors_page():
    return f"""<!DOCTYPE html>
<html><head><title>cors</title></head><body><p id="state">running</p>
<script>
const gw = {json.dumps(endpoint)};
const fields = {json.dumps(fetch_post["fields"])};
async function attempt(fn) {{
  try {{ return await fn(); }} catch (e) {{ return {{error: String(e)}}; }}
}}
async function run() {{
  const res = {{}};
  const obj = gw + "/browser/public/hello.txt";
  res.get = await attempt(async () => {{
    const r = await fetch(obj, {{headers: {{"x-amz-meta-probe": "1"}}}});
    return {{status: r.status, body: await r.text(), etag: r.headers.get("ETag"),
             color: r.headers.get("x-amz-meta-color")}};
  }});
  res.forbidden_header = await attempt(async () => {{
    const r = await fetch(obj, {{headers: {{"x-not-allowed": "1"}}}});
    return {{status: r.status}};
  }});
  res.simple = await attempt(async () => {{
    const r = await fetch(obj);
    return {{status: r.status, body: await r.text()}};
  }});
  if (location.search.includes("post=1")) {{
    res.post = await attempt(async () => {{
      const fd = new FormData();
      for (const k in fields) fd.append(k, fields[k]);
      fd.append("file", new Blob(["uploaded by fetch in chromium"], {{type: "text/plain"}}),
                "fetch.txt");
      const r = await fetch(gw + "/browser", {{method: "POST", body: fd}});
      return {{status: r.status, body: await r.text(), etag: r.headers.get("ETag")}};
    }});
  }}
  await fetch("/report", {{method: "POST", body: JSON.stringify(res)}});
  document.getElementById("state").textContent = "reported";
}}
run();
</script></body></html>"""


def record(ev):
    with lock, open(os.path.join(outdir, "events.jsonl"), "a") as f:
        f.write(json.dumps(ev) + "\n")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("s3_browser: " + (fmt % args) + "\n")

    def reply(self, status, body, ctype="text/html; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def origin(self):
        return "A" if self.server is srv_a else "B"

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/form.html":
            self.reply(200, form_page())
        elif u.path == "/cors.html":
            self.reply(200, cors_page())
        elif u.path == "/done":
            q = dict(urllib.parse.parse_qsl(u.query))
            record({"event": "done", "origin": self.origin(), "query": q})
            self.reply(200, f'<html><body><p id="done">{html.escape(json.dumps(q))}</p>'
                            "</body></html>")
        elif u.path == "/favicon.ico":
            self.reply(404, "")
        else:
            self.reply(404, "no such page")

    def do_POST(self):
        if self.path != "/report":
            self.reply(404, "no such page")
            return
        n = int(self.headers.get("Content-Length", "0"))
        results = json.loads(self.rfile.read(n) or b"{}")
        record({"event": "report", "origin": self.origin(), "results": results})
        self.reply(200, "ok", "text/plain")


srv_a.RequestHandlerClass = Handler
srv_b.RequestHandlerClass = Handler
threading.Thread(target=srv_b.serve_forever, daemon=True).start()
with open(os.path.join(outdir, "ports.tmp"), "w") as f:
    f.write(f"{srv_a.server_address[1]} {srv_b.server_address[1]}\n")
os.rename(os.path.join(outdir, "ports.tmp"), os.path.join(outdir, "ports"))
srv_a.serve_forever()
