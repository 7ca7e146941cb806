package runtime

func registerIndexing(r *Registry) {}
