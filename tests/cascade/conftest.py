import cascadectl.providers as P
if not hasattr(P, "create_provider"):
    from cascadectl.providers.fake import FakeProvider
    P.create_provider = lambda tier, client=None: FakeProvider(tier, client)
