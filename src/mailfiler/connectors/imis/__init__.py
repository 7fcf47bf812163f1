"""The iMIS connector: mailfiler's filing written to iMIS through its REST API.

``wire`` is the API's JSON shapes, ``client`` the careful HTTP client,
``mapping`` the per-organisation names of entities and fields (with
documented defaults), ``connector`` the Connector protocol on top, and
``accounts`` the sign-in of iMIS users.
"""
