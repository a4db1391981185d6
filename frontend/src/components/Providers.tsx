"use client";
import { ApolloProvider } from "@apollo/client/react";
import { useEffect, useState, type ReactNode } from "react";
import { makeClient } from "@/lib/apollo";
import { installSpatialNavigation } from "@/lib/spatial";

export function Providers({ children }: { children: ReactNode }) {
  const [client] = useState(makeClient);
  useEffect(() => installSpatialNavigation(), []);
  return <ApolloProvider client={client}>{children}</ApolloProvider>;
}
