/** Per-request values shared by the app's middleware. */
export interface AppEnv {
  Variables: {
    /** The metrics label for requests no route answered (set by the not-found handler). */
    routeLabel?: string;
    /** sha256 of the agent token that authenticated this request (rate-limit key). */
    agentTokenHash?: string;
  };
}
