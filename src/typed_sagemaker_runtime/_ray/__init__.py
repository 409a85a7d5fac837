"""Ray Data: ``InvokeBatches``, a batch callable for ``Dataset.map_batches`` (the ``ray`` extra).

The top layer: it uses the sync client's bulk runner, and nothing imports it but the
package root's lazy lookup. Ray itself is never imported here (Ray imports this), nor
pyarrow or pandas: a batch's type is checked when it arrives.
"""
