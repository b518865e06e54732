/** Per-request values shared by the app's middleware. */
export interface AppEnv {
  Variables: {
    /** The metrics label where the route pattern is not it: no route answered, the WebSocket route. */
    routeLabel?: string;
  };
}
