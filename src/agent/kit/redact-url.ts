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
