module heapaccuracy

go 1.19
