"""The audit trail: every use of a resident's personal data, chained so no one can rewrite it.

``uses`` says what a use is and writes it in the caller's unit of work (writes); ``recorder``
writes reads in batches without losing one it acknowledged; ``capture`` hands routes a
``DataUses`` bound to whoever made the request; ``chain`` is the hash chain.
"""
