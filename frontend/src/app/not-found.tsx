import Link from "next/link";

export default function NotFound() {
  return (
    <main id="main" className="center-page">
      <div className="panel">
        <h1>Nothing here</h1>
        <p className="muted">That page doesn&apos;t exist.</p>
        <Link className="button button-primary" href="/">
          Go home
        </Link>
      </div>
    </main>
  );
}
