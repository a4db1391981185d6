"use client";
import { useQuery, useSubscription } from "@apollo/client/react";
import { useEffect } from "react";
import { graphql } from "@/gql";
import { plural } from "@/lib/format";

const ScanFields = graphql(`
  subscription LibraryScanProgress($libraryId: ID!) {
    libraryScan(libraryId: $libraryId) {
      id
      status
      done
      filesSeen
      filesNew
      filesChanged
      filesFailed
      filesRemoved
      currentPath
      error
    }
  }
`);

const LatestScan = graphql(`
  query LatestScan($id: ID!) {
    library(id: $id) {
      id
      itemCount
      latestScan {
        id
        status
        done
        filesSeen
        filesNew
        filesChanged
        filesFailed
        filesRemoved
        currentPath
        error
      }
    }
  }
`);

export type ScanState = {
  status: string;
  done: boolean;
  filesSeen: number;
  filesNew: number;
  filesFailed: number;
  currentPath: string | null;
  error: string | null;
};

const LABEL: Record<string, string> = {
  QUEUED: "Waiting to start",
  RUNNING: "Scanning",
  COMPLETED: "Scan complete",
  FAILED: "Scan failed",
  INTERRUPTED: "Scan interrupted",
};

/** Live progress of a library's scan: the subscription, with a slow poll as a safety net. */
export function ScanProgress({ libraryId, onDone }: { libraryId: string; onDone?: (scan: ScanState) => void }) {
  const live = useSubscription(ScanFields, { variables: { libraryId } });
  const polled = useQuery(LatestScan, { variables: { id: libraryId }, pollInterval: 2000, fetchPolicy: "network-only" });
  const fromPoll = polled.data?.library?.latestScan ?? null;
  const fromLive = live.data?.libraryScan ?? null;
  const scan: ScanState | null = fromPoll?.done ? fromPoll : fromLive ?? fromPoll;
  const done = scan?.done ?? false;
  useEffect(() => {
    if (done && scan) {
      polled.stopPolling();
      onDone?.(scan);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps -- fire once when the scan is done
  }, [done]);
  const status = scan?.status ?? "QUEUED";
  const failed = status === "FAILED";
  return (
    <div className={`scan ${done ? "is-done" : ""} ${failed ? "is-failed" : ""}`}>
      <div className="scan-head">
        <strong>{LABEL[status] ?? status}</strong>
        <span className="muted">
          {scan ? `${plural(scan.filesSeen, "file")} seen · ${scan.filesNew} new${scan.filesFailed ? ` · ${scan.filesFailed} failed` : ""}` : "Starting…"}
        </span>
      </div>
      <div
        className={`progress ${done ? "" : "is-indeterminate"}`}
        role="progressbar"
        aria-label="Library scan progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={done ? 100 : undefined}
        aria-valuetext={done ? LABEL[status] : `${scan?.filesSeen ?? 0} files seen`}
        data-status={status}
      >
        <span style={{ width: done ? "100%" : undefined }} />
      </div>
      {!done && scan?.currentPath && <p className="scan-path muted" title={scan.currentPath}>{scan.currentPath}</p>}
      {scan?.error && <p className="form-error">{scan.error}</p>}
    </div>
  );
}
