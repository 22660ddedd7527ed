"""External AI vendors: how they are reached, routed around and watched."""
