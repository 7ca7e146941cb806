package runtime

func registerSignal(r *Registry) {}
