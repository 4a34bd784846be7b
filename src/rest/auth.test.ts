import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HwError } from "../api/errors.ts";
import { LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW_MS, TokenStore, tokenFromHeader } from "./auth.ts";

const store = (now: () => number) => new TokenStore({ enabled: true, accessId: "admin", secretKey: "k3y", ttlMs: 1000 }, undefined, now);
const status = (f: () => unknown) => {
  try {
    f();
    return 200;
  } catch (e) {
    return (e as HwError).httpStatusOverride;
  }
};
/** The HTTP status of a login of "admin" with this secret from this client address. */
const loginStatus = (s: TokenStore, secret: string, client: string) => status(() => s.login("admin", secret, client));

describe("token store", () => {
  it("issues tokens that expire after the TTL; logout forgets them", () => {
    let t = 0;
    const s = store(() => t);
    const { token, expireAt } = s.login("admin", "k3y");
    assert.equal(expireAt, 1);
    assert.ok(s.verify(token));
    t = 999;
    assert.ok(s.verify(token));
    t = 1000;
    assert.ok(!s.verify(token));
    const again = s.login("admin", "k3y").token;
    s.logout(again);
    assert.ok(!s.verify(again));
  });

  it("refuses a client after repeated failed logins for the rest of the window, others are not affected", () => {
    let t = 0;
    const s = store(() => t);
    for (let i = 0; i < LOGIN_FAILURES_ALLOWED; i++) assert.equal(loginStatus(s, "guess", "10.0.0.9"), 401);
    assert.equal(loginStatus(s, "k3y", "10.0.0.9"), 429);
    assert.equal(loginStatus(s, "k3y", "10.0.0.8"), 200);
    t = LOGIN_WINDOW_MS + 1;
    assert.equal(loginStatus(s, "k3y", "10.0.0.9"), 200);
  });

  it("a success resets the count", () => {
    const s = store(() => 0);
    // twice: without the reset, the second round's failures would add up to a refusal
    for (const round of [1, 2]) {
      for (let i = 0; i < LOGIN_FAILURES_ALLOWED - 1; i++) assert.equal(loginStatus(s, "x", "a"), 401, `round ${round}`);
      assert.equal(loginStatus(s, "k3y", "a"), 200, `round ${round}`);
    }
  });

  it("reads the bare token and the Bearer form", () => {
    assert.equal(tokenFromHeader("abc"), "abc");
    assert.equal(tokenFromHeader("Bearer abc"), "abc");
    assert.equal(tokenFromHeader(["bearer  abc "]), "abc");
    assert.equal(tokenFromHeader(""), undefined);
    assert.equal(tokenFromHeader(undefined), undefined);
  });
});
