import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256, sha256Hex } from "./sha256";

describe("sha256Hex", () => {
  it("matches the known vectors", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("matches node's hash for documents of every padding length and non-ASCII text", () => {
    for (let length = 0; length < 300; length++) {
      const text = "query Q { item(id: \"é\") { id } }".repeat(10).slice(0, length);
      expect(sha256Hex(text)).toBe(createHash("sha256").update(text).digest("hex"));
    }
  });

  it("agrees with Web Crypto", async () => {
    expect(await sha256("{ setupRequired }")).toBe(sha256Hex("{ setupRequired }"));
  });
});
