"""`flask --app shop simulate`: demo data made of real checkouts through both running apps, over HTTP.

- ``choices``: every shopper's choices and the past day of each journey, drawn from ``random.Random(seed)``;
- ``html_forms`` / ``shop_browser``: a shopper's session on the shop, submitting the pages' real forms (CSRF);
- ``sandbox``: the small client of Summit Bank's sandbox API (test cardholders, the SMS outbox);
- ``journeys``: one shopper's checkouts, step by step, as the plan says;
- ``timeshift``: moving a finished journey's timestamps to its drawn past day and marking it simulated;
- ``runner`` / ``command``: the run (reachability, progress bar, summary) and the click command.

The shop never imports the issuer or the e2e helpers: the bank is reached only over HTTP.
"""
