"""The demo's data, made by the real services: `members` the plans and members, `claims` the
claims in every state and the seed's case, `billing` the posted periods (seed_demo runs them
in that order). Demo code lives here, not in the apps: no app imports office."""
