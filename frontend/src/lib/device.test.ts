import { describe, expect, it } from "vitest";
import { deviceProfileName } from "./device";

describe("deviceProfileName", () => {
  it("recognises browsers", () => {
    expect(deviceProfileName("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36")).toBe("chromium");
    expect(deviceProfileName("Mozilla/5.0 (Macintosh) Version/17.0 Safari/605.1.15")).toBe("safari");
    expect(deviceProfileName("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")).toBe("firefox");
  });
});
