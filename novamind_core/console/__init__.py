"""The web console: reviewers see every family's challenger beside its champion and
approve, reject or roll back in the browser, signed in, with the same rules and records
as the CLI."""
