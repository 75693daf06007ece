/**
 * A GitHub REST API stand-in on loopback for the PR-comment glue: a real node:http server that
 * serves an issue's comments (paginated with Link headers, like api.github.com), creates and
 * updates them, records every request, and can be told to refuse writes (a fork PR's read-only
 * token) or to answer a rate limit a given number of times.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/repos/o/r/issues/7/comments?per_page=100&page=2`. */
  url: string;
  body?: unknown;
  authorization?: string;
}

export interface StoredComment {
  id: number;
  issue: string;
  body: string;
  /** Who wrote it (default: the workflow's bot, as the token posts). */
  author?: string;
}

export type Refusal =
  /** 403 "Resource not accessible by integration", on every write. */
  | { kind: "read-only" }
  /** A rate limit answered to the next `times` requests (any method). */
  | { kind: "rate-limit"; status: 403 | 429; times: number; retryAfter?: number; reset?: number }
  /** 5xx answered to the next `times` requests. */
  | { kind: "server-error"; status: number; times: number };

export interface StoredPull {
  number: number;
  headSha: string;
  baseRef: string;
  mergedAt: string | null;
  mergeCommitSha: string | null;
}

export interface GitHubStandIn {
  baseUrl: string;
  requests: RecordedRequest[];
  comments: StoredComment[];
  /** Lists a pull request for a commit (`GET /repos/o/r/commits/{sha}/pulls`). */
  seedPull(owner: string, repo: string, commitSha: string, pull: StoredPull): void;
  /** Adds a comment as if someone (the workflow's bot unless `author`) had posted it before. */
  seed(owner: string, repo: string, issue: number, body: string, author?: string): StoredComment;
  refuse(refusal: Refusal | undefined): void;
  close(): Promise<void>;
}

export async function startGitHubStandIn(): Promise<GitHubStandIn> {
  const requests: RecordedRequest[] = [];
  const comments: StoredComment[] = [];
  const pulls = new Map<string, StoredPull[]>();
  let nextId = 1000;
  let refusal: Refusal | undefined;
  let baseUrl = "";

  const json = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  };
  const view = (c: StoredComment, owner: string, repo: string) => ({
    id: c.id,
    body: c.body,
    html_url: `https://github.com/${owner}/${repo}/pull/${c.issue.split("#")[1]}#issuecomment-${c.id}`,
    user: { login: c.author ?? "github-actions[bot]" },
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", baseUrl);
    const body = raw ? (JSON.parse(raw) as unknown) : undefined;
    requests.push({
      method: req.method ?? "GET",
      url: `${url.pathname}${url.search}`,
      ...(body !== undefined ? { body } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });

    if (refusal && refusal.kind !== "read-only") {
      const current = refusal;
      current.times--;
      if (current.times <= 0) refusal = undefined;
      if (current.kind === "server-error") {
        return json(res, current.status, { message: "Server Error" });
      }
      const headers: Record<string, string> = { "x-ratelimit-limit": "5000" };
      if (current.retryAfter !== undefined) headers["retry-after"] = String(current.retryAfter);
      if (current.reset !== undefined) {
        headers["x-ratelimit-remaining"] = "0";
        headers["x-ratelimit-reset"] = String(current.reset);
      }
      return json(res, current.status, { message: "API rate limit exceeded" }, headers);
    }

    const commitPulls = /^\/repos\/([^/]+)\/([^/]+)\/commits\/([0-9a-f]{40})\/pulls$/.exec(
      url.pathname,
    );
    if (commitPulls && req.method === "GET") {
      const [, owner, repo, sha] = commitPulls as unknown as [string, string, string, string];
      return json(
        res,
        200,
        (pulls.get(`${owner}/${repo}@${sha}`) ?? []).map((p) => ({
          number: p.number,
          state: p.mergedAt ? "closed" : "open",
          merged_at: p.mergedAt,
          merge_commit_sha: p.mergeCommitSha,
          head: { sha: p.headSha, ref: `feature-${p.number}` },
          base: { ref: p.baseRef },
        })),
      );
    }
    const list = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname);
    const one = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname);
    const write = req.method === "POST" || req.method === "PATCH";
    if (write && refusal?.kind === "read-only") {
      return json(res, 403, {
        message: "Resource not accessible by integration",
        documentation_url: "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
      });
    }
    if (list && req.method === "GET") {
      const [, owner, repo, issue] = list as unknown as [string, string, string, string];
      const all = comments.filter((c) => c.issue === `${owner}/${repo}#${issue}`);
      const perPage = Math.min(100, Number(url.searchParams.get("per_page") ?? 30));
      const page = Number(url.searchParams.get("page") ?? 1);
      const pages = Math.max(1, Math.ceil(all.length / perPage));
      const link = (p: number, rel: string) => {
        const target = new URL(url.pathname, baseUrl);
        target.searchParams.set("per_page", String(perPage));
        target.searchParams.set("page", String(p));
        return `<${target.href}>; rel="${rel}"`;
      };
      const links = [
        ...(page < pages ? [link(page + 1, "next"), link(pages, "last")] : []),
        ...(page > 1 ? [link(1, "first"), link(page - 1, "prev")] : []),
      ];
      return json(
        res,
        200,
        all.slice((page - 1) * perPage, page * perPage).map((c) => view(c, owner, repo)),
        links.length ? { link: links.join(", ") } : {},
      );
    }
    if (list && req.method === "POST") {
      const [, owner, repo, issue] = list as unknown as [string, string, string, string];
      const text = (body as { body?: unknown } | undefined)?.body;
      if (typeof text !== "string") return json(res, 422, { message: "body is required" });
      const comment = { id: nextId++, issue: `${owner}/${repo}#${issue}`, body: text };
      comments.push(comment);
      return json(res, 201, view(comment, owner, repo));
    }
    if (one && req.method === "PATCH") {
      const [, owner, repo, id] = one as unknown as [string, string, string, string];
      const comment = comments.find(
        (c) => c.id === Number(id) && c.issue.startsWith(`${owner}/${repo}#`),
      );
      if (!comment) return json(res, 404, { message: "Not Found" });
      const text = (body as { body?: unknown } | undefined)?.body;
      if (typeof text !== "string") return json(res, 422, { message: "body is required" });
      comment.body = text;
      return json(res, 200, view(comment, owner, repo));
    }
    return json(res, 404, { message: "Not Found" });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => json(res, 500, { message: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl,
    requests,
    comments,
    seedPull(owner, repo, commitSha, pull) {
      const key = `${owner}/${repo}@${commitSha}`;
      pulls.set(key, [...(pulls.get(key) ?? []), pull]);
    },
    seed(owner, repo, issue, body, author) {
      const comment = {
        id: nextId++,
        issue: `${owner}/${repo}#${issue}`,
        body,
        ...(author ? { author } : {}),
      };
      comments.push(comment);
      return comment;
    },
    refuse(next) {
      refusal = next === undefined ? undefined : { ...next };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
