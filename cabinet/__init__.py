"""The customer's personal cabinet: server-rendered pages under /cabinet/.

Every page reaches data only through ``request.user``'s customer (never through an id in the
URL), so one customer can never see another's points, checks, messages or offers.
"""
