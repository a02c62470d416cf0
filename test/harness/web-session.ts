// One browser's session against the JSON APIs of the admin and account pages: the session cookie
// the server sets is kept and sent back, the CSRF token the test stores in `state.csrf` is sent on
// every request, and redirects are returned rather than followed (tests assert them).

export type JsonBody = Record<string, unknown>;

export interface WebSession {
  readonly state: { cookie: string; csrf: string };
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: JsonBody | null; setCookie: string | null }>;
}

export function webSession(base: string): WebSession {
  const state = { cookie: "", csrf: "" };
  return {
    state,
    async call(method, path, body, headers = {}) {
      const response = await fetch(base + path, {
        method,
        headers: { ...(state.cookie ? { cookie: state.cookie } : {}), ...(state.csrf ? { "x-csrf-token": state.csrf } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
        // A string body is sent as it is, so tests can send malformed JSON.
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
        redirect: "manual",
      });
      const text = await response.text();
      const setCookie = response.headers.get("set-cookie");
      if (setCookie) state.cookie = setCookie.split(";")[0]!;
      let json: JsonBody | null = null;
      try {
        json = text ? (JSON.parse(text) as JsonBody) : null;
      } catch {
        json = null;
      }
      return { status: response.status, json, setCookie };
    },
  };
}
