import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import type { KeyType } from './config.js';

type KeyParams = { kind: 'ec'; namedCurve: string } | { kind: 'rsa'; modulusLength: number };

/** generateKeyPair off the event loop (RSA 4096 takes a while), PKCS#8 PEM out. */
function generate(params: KeyParams): Promise<string> {
  const encoding = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _publicKey: string, privateKey: string) => (err ? reject(err) : resolve(privateKey));
    if (params.kind === 'ec') generateKeyPair('ec', { namedCurve: params.namedCurve, ...encoding }, done);
    else generateKeyPair('rsa', { modulusLength: params.modulusLength, ...encoding }, done);
  });
}

/** A new private key as PKCS#8 PEM (what acme-client's CSR builder and nginx both read). */
export function generatePrivateKey(keyType: KeyType): Promise<string> {
  switch (keyType) {
    case 'ecdsa-p256':
      return generate({ kind: 'ec', namedCurve: 'P-256' });
    case 'ecdsa-p384':
      return generate({ kind: 'ec', namedCurve: 'P-384' });
    case 'rsa-2048':
      return generate({ kind: 'rsa', modulusLength: 2048 });
    case 'rsa-3072':
      return generate({ kind: 'rsa', modulusLength: 3072 });
    case 'rsa-4096':
      return generate({ kind: 'rsa', modulusLength: 4096 });
  }
}

/** Which configured key type a key is, or undefined for anything else (so a changed keyType triggers a new order). */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ecdsa-p256';
    if (details?.namedCurve === 'secp384r1') return 'ecdsa-p384';
  }
  if (key.asymmetricKeyType === 'rsa') {
    if (details?.modulusLength === 2048) return 'rsa-2048';
    if (details?.modulusLength === 3072) return 'rsa-3072';
    if (details?.modulusLength === 4096) return 'rsa-4096';
  }
  return undefined;
}

export function keyTypeOfPem(pem: string): KeyType | undefined {
  return keyTypeOf(createPrivateKey(pem));
}
