package slack

// ActivityPrefix prefixes the names of this package's activities in a worker, so that
// methods of the same name in other integrations (Inventory, say) do not collide.
const ActivityPrefix = "slack."
