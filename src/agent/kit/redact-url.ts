/** Query parameters that carry a password (libpq reads `password` and `sslpassword` from a postgres:// URL). */
const SECRET_PARAMS = ['password', 'sslpassword'];

/** A URL with its password masked, in the userinfo or the query, for logs, the API and questions. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The text itself may be a secret that failed to parse: none of it is repeated.
    return '(unparsable URL)';
  }
  if (url.password) url.password = '***';
  for (const name of SECRET_PARAMS) if (url.searchParams.has(name)) url.searchParams.set(name, '***');
  return url.toString();
}

/** The URL without the password of its userinfo, and that password (decoded), for a tool that takes it from its environment. */
export function withoutPassword(text: string): { url: string; password: string | undefined } {
  const url = new URL(text);
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.password = '';
  return { url: url.toString(), password };
}
