"""Page objects of the shop and the sandbox console: what a person sees and does, by role and label."""
