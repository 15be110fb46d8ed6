"""Changes travelling CS → prefecture → national, taken exactly once at every hop.

The ledger takes a change or a batch (one by one, or planned set-wise in
`batch_plan`) through the one decision of `records`, keeps every version,
remembers every decision and queues what goes on in the durable `outbox`;
`delivery` seals batches for the next hop and takes delivered ones.
"""
