package runtime

func registerConv(r *Registry) {}
