import type { Reply } from './client.ts';

/** Thrown when a registry's answer breaks the case's expectation. */
export class CaseFailure extends Error {
  override name = 'CaseFailure';
}

/** Thrown when a case cannot meaningfully run (e.g. a precondition the registry cannot offer). */
export class CaseSkip extends Error {
  override name = 'CaseSkip';
}

export function fail(message: string): never {
  throw new CaseFailure(message);
}

export function skip(message: string): never {
  throw new CaseSkip(message);
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

export function expectStatus(reply: Reply, ...expected: number[]): void {
  if (!expected.includes(reply.status)) {
    fail(`expected ${expected.join(' or ')}, got ${reply.describe()}`);
  }
}

/** The header's value; fails when it is missing or (if given) does not match. */
export function expectHeader(reply: Reply, name: string, expected?: string | RegExp): string {
  const value = reply.header(name);
  if (value === null) fail(`missing ${name} header on ${reply.method} ${reply.url.pathname} (${reply.status})`);
  if (typeof expected === 'string' && value !== expected) {
    fail(`${name} is "${value}", expected "${expected}" (${reply.method} ${reply.url.pathname})`);
  }
  if (expected instanceof RegExp && !expected.test(value)) {
    fail(`${name} is "${value}", expected to match ${expected} (${reply.method} ${reply.url.pathname})`);
  }
  return value;
}

/** Media type without parameters: "application/json; charset=utf-8" → "application/json". */
export function mediaTypeOf(reply: Reply): string | undefined {
  return reply.header('content-type')?.split(';')[0]?.trim().toLowerCase();
}

export function expectContentType(reply: Reply, expected: string): void {
  const actual = mediaTypeOf(reply);
  if (actual !== expected.toLowerCase()) {
    fail(`Content-Type is "${reply.header('content-type') ?? '(none)'}", expected "${expected}" (${reply.method} ${reply.url.pathname})`);
  }
}

/**
 * Spec: Error Codes — "The `code` field MUST be one of the following" (code-1 … code-14), plus the
 * legacy Docker schema1 codes the spec says clients may meet.
 */
export const SPEC_ERROR_CODES: readonly string[] = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
  'TAG_INVALID',
  'MANIFEST_UNVERIFIED',
];

/**
 * The error envelope of spec: Error Codes — `{"errors":[{"code": …}]}` — with one of the listed codes.
 * Checks the status too, so one call states the whole expectation.
 */
export function expectError(reply: Reply, status: number | number[], ...codes: string[]): void {
  expectStatus(reply, ...(Array.isArray(status) ? status : [status]));
  const found = errorCodes(reply);
  if (found === undefined) {
    fail(`${reply.status} without the JSON error envelope {"errors":[{"code":…}]}: ${reply.describe()}`);
  }
  expectSpecCodes(reply, found);
  if (codes.length > 0 && !found.some((code) => codes.includes(code))) {
    fail(`error code ${found.join(',') || '(none)'}, expected ${codes.join(' or ')}: ${reply.describe()}`);
  }
}

/**
 * For a 4xx whose code the spec does not name (e.g. 416): any body format is allowed, but a JSON
 * body MUST be the error envelope with codes from the spec's table.
 */
export function expectEnvelopeIfJson(reply: Reply): void {
  if (!/json/i.test(reply.header('content-type') ?? '') || reply.body.length === 0) return;
  const found = errorCodes(reply);
  if (found === undefined) fail(`JSON ${reply.status} body is not the error envelope {"errors":[{"code":…}]}: ${reply.describe()}`);
  expectSpecCodes(reply, found);
}

function expectSpecCodes(reply: Reply, codes: string[]): void {
  const unknown = codes.filter((code) => !SPEC_ERROR_CODES.includes(code));
  if (unknown.length > 0) {
    fail(`error code ${unknown.join(',')} is not one of the spec's codes (spec: Error Codes, "MUST be one of"): ${reply.describe()}`);
  }
}

/** The `code`s of an error envelope, or undefined if the body is not one. */
export function errorCodes(reply: Reply): string[] | undefined {
  const body = reply.json();
  if (!isRecord(body) || !Array.isArray(body['errors'])) return undefined;
  const codes: string[] = [];
  for (const entry of body['errors']) {
    if (!isRecord(entry) || typeof entry['code'] !== 'string') return undefined;
    codes.push(entry['code']);
  }
  return codes;
}

export function expectBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length) fail(`${what}: ${actual.length} bytes, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) fail(`${what}: bytes differ from what was pushed, first at offset ${i}`);
  }
}

export function expectEmptyBody(reply: Reply): void {
  if (reply.body.length > 0) fail(`expected no body, got ${reply.body.length} bytes: ${reply.describe()}`);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON object body, or a failure naming the request. */
export function expectJsonObject(reply: Reply): Record<string, unknown> {
  const body = reply.json();
  if (!isRecord(body)) fail(`expected a JSON object body: ${reply.describe()}`);
  return body;
}
