/**
 * Arrow-key navigation between focusable things, as on a TV remote: the nearest focusable
 * element in the pressed direction gets focus. Text fields, selects and the player keep their
 * own arrow keys.
 */
const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex="-1"])';

type Direction = "ArrowUp" | "ArrowDown" | "ArrowLeft" | "ArrowRight";

function visible(element: HTMLElement): boolean {
  const rect = element.getBoundingClientRect();
  return rect.width > 0 && rect.height > 0 && getComputedStyle(element).visibility !== "hidden";
}

export function nextInDirection(from: HTMLElement, direction: Direction, root: ParentNode = document): HTMLElement | null {
  const origin = from.getBoundingClientRect();
  const ox = origin.left + origin.width / 2;
  const oy = origin.top + origin.height / 2;
  let best: HTMLElement | null = null;
  let bestScore = Infinity;
  for (const candidate of root.querySelectorAll<HTMLElement>(FOCUSABLE)) {
    if (candidate === from || !visible(candidate) || candidate.closest("[data-nav-skip]")) continue;
    const rect = candidate.getBoundingClientRect();
    const cx = rect.left + rect.width / 2;
    const cy = rect.top + rect.height / 2;
    const dx = cx - ox;
    const dy = cy - oy;
    let along: number;
    let across: number;
    switch (direction) {
      case "ArrowRight":
        along = rect.left - origin.right + 1;
        across = Math.abs(dy);
        if (dx <= 0) continue;
        break;
      case "ArrowLeft":
        along = origin.left - rect.right + 1;
        across = Math.abs(dy);
        if (dx >= 0) continue;
        break;
      case "ArrowDown":
        along = rect.top - origin.bottom + 1;
        across = Math.abs(dx);
        if (dy <= 0) continue;
        break;
      default:
        along = origin.top - rect.bottom + 1;
        across = Math.abs(dx);
        if (dy >= 0) continue;
    }
    const score = Math.max(0, along) + across * 2;
    if (score < bestScore) {
      bestScore = score;
      best = candidate;
    }
  }
  return best;
}

export function installSpatialNavigation(): () => void {
  const onKey = (event: KeyboardEvent) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (!["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(event.key)) return;
    const active = document.activeElement as HTMLElement | null;
    if (!active || active === document.body) {
      const first = document.querySelector<HTMLElement>("main " + FOCUSABLE.split(",")[0]);
      if (first) {
        first.focus();
        event.preventDefault();
      }
      return;
    }
    const tag = active.tagName;
    const type = (active as HTMLInputElement).type;
    if ((tag === "INPUT" && type !== "checkbox" && type !== "radio" && type !== "button") || tag === "TEXTAREA" || tag === "SELECT") return;
    if (active.closest("[data-own-keys]")) return;
    const next = nextInDirection(active, event.key as Direction);
    if (next) {
      event.preventDefault();
      next.focus();
      next.scrollIntoView({ block: "nearest", inline: "nearest", behavior: "smooth" });
    }
  };
  window.addEventListener("keydown", onKey);
  return () => window.removeEventListener("keydown", onKey);
}
